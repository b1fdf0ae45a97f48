"""Launch commands for a planned deployment: `planner emit vllm|sglang`.

`emit_command(engine, deployment, model_hf_id, family)` returns an `EmittedCommand` (argv per
node, shell text, environment); `planner emit compose|k8s` reuse it for their manifests.
"""

from planner.emit.command import EmittedCommand, NodeCommand
from planner.emit.launch import ENGINES, LaunchOptions, emit_command

__all__ = ["ENGINES", "EmittedCommand", "LaunchOptions", "NodeCommand", "emit_command"]
