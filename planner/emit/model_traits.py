"""What each engine needs to know about a model family beyond its parallel layout: parsers and format.

Sources (checked 2026-11-29):
- vLLM recipe "DeepSeek-V3.2 Usage Guide" (docs.vllm.ai/projects/recipes, DeepSeek/DeepSeek-V3_2):
  `--tokenizer-mode deepseek_v32 --tool-call-parser deepseek_v32 --enable-auto-tool-choice
  --reasoning-parser deepseek_v3`; V3.2 (GA) has no Jinja chat template, hence the tokenizer mode.
- SGLang "DeepSeek V3.2 Usage" (docs.sglang.io/basic_usage/deepseek_v32.html): V3.2 is used like
  V3.2-Exp "except for the tool call parser" (deepseekv32 vs deepseekv31), reasoning parser
  `deepseek-v3`; SGLang cookbook DeepSeek-V3_1 for V3.1/Terminus (`deepseekv31`).
- Parser names as registered in vLLM 0.32.0 (vllm/reasoning/__init__.py, vllm/tool_parsers/__init__.py)
  and SGLang 0.5.23 (ReasoningParser.DetectorMap, FunctionCallParser.ToolCallParserEnum); the
  checked-in flag lists under data/ repeat them and tests hold this table to them.
- V3 / V3-0324 have no thinking mode (no reasoning parser); R1 / R1-0528 and the R1 distills
  always think (`deepseek_r1`); V3 / R1 tool calls use the V3 format (`deepseek_v3`).
- Qwen2.5 (Qwen2.5-Coder) tool calls use the Hermes format (vLLM tool-calling docs: `hermes`;
  SGLang: `qwen25`).
The checkpoint's weight format and whether the model has DSA come from its catalog config.json
(`ModelSpec.native_weights_dtype`, `ModelSpec.has_dsa`), not from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import PlannerInputError

__all__ = ["ModelTraits", "MODEL_TRAITS", "kv_cache_dtype_value", "model_traits"]


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """Engine-facing facts about one model family."""

    vllm_reasoning_parser: str | None
    vllm_tool_parser: str | None
    sglang_reasoning_parser: str | None
    sglang_tool_parser: str | None
    vllm_tokenizer_mode: str | None = None


_V31 = ModelTraits("deepseek_v3", "deepseek_v31", "deepseek-v3", "deepseekv31")
_V3 = ModelTraits(None, "deepseek_v3", None, "deepseekv3")
_R1 = ModelTraits("deepseek_r1", "deepseek_v3", "deepseek-r1", "deepseekv3")
_DISTILL = ModelTraits("deepseek_r1", None, "deepseek-r1", None)

MODEL_TRAITS: dict[str, ModelTraits] = {
    "deepseek-v3.2": ModelTraits(
        "deepseek_v3", "deepseek_v32", "deepseek-v3", "deepseekv32", vllm_tokenizer_mode="deepseek_v32"
    ),
    "deepseek-v3.2-exp": ModelTraits("deepseek_v3", "deepseek_v31", "deepseek-v3", "deepseekv31"),
    "deepseek-v3.1-terminus": _V31,
    "deepseek-v3.1": _V31,
    "deepseek-v3-0324": _V3,
    "deepseek-v3": _V3,
    "deepseek-r1": _R1,
    "deepseek-r1-0528": _R1,
    "deepseek-r1-distill-qwen-1.5b": _DISTILL,
    "deepseek-r1-distill-qwen-7b": _DISTILL,
    "deepseek-r1-distill-qwen-14b": _DISTILL,
    "deepseek-r1-distill-qwen-32b": _DISTILL,
    "deepseek-r1-distill-llama-8b": _DISTILL,
    "deepseek-r1-distill-llama-70b": _DISTILL,
    "qwen2.5-coder-32b": ModelTraits(None, "hermes", None, "qwen25"),
}


def model_traits(family: str) -> ModelTraits:
    """The traits of `family`; an unknown family lists the ones `planner emit` knows."""
    traits = MODEL_TRAITS.get(family)
    if traits is None:
        raise PlannerInputError(
            f"planner emit does not know the launch flags of '{family}'; known: {', '.join(MODEL_TRAITS)}"
        )
    return traits


def kv_cache_dtype_value(engine: str, dsa: bool, kv_dtype: str) -> str:
    """The engine's `--kv-cache-dtype` value for the planner's `bf16|fp8`.

    vLLM 0.32.0 (vllm/model_executor/models/config.py, DeepseekV32ForCausalLM): for V3.2 `fp8*`
    becomes its `fp8_ds_mla` layout and `bfloat16` means BF16; other models take `auto` (the
    model dtype) for BF16. SGLang 0.5.23 (arg_groups/fields, --kv-cache-dtype choices): DeepSeek
    DSA takes `bf16|bfloat16|fp8_e4m3`; its FP8 is `fp8_e4m3`.
    """
    if kv_dtype == "fp8":
        return "fp8" if engine == "vllm" else "fp8_e4m3"
    if not dsa:
        return "auto"
    return "bfloat16" if engine == "vllm" else "bf16"
