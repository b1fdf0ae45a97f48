"""An OpenAI-compatible upstream that behaves like vLLM, SGLang, Novita, Fireworks or DeepSeek.

Used by tests, benchmarks and `gateway serve --demo`; started with `gateway emulate`.
"""

from backends.emulator.app import EmulatorConfig, create_app

__all__ = ["EmulatorConfig", "create_app"]
