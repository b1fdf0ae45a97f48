"""The bundled catalog: model configs under `planner/data/models/`, GPUs under `planner/data/gpus/`.

Files are read lazily, on first use, and cached; importing this module reads nothing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec
from planner.model_spec import ModelSpec, parse_hf_config

__all__ = ["model_names", "gpu_names", "load_model", "load_model_config_file", "load_gpu", "model_source"]

DATA_DIR = Path(__file__).resolve().parent / "data"
MODELS_DIR = DATA_DIR / "models"
GPUS_DIR = DATA_DIR / "gpus"


@lru_cache(maxsize=1)
def model_names() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").is_file()))


@lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in GPUS_DIR.glob("*.yaml")))


@lru_cache(maxsize=None)
def load_model(name: str) -> ModelSpec:
    """The catalog model `name`; an unknown name lists the valid ones."""
    if name not in model_names():
        raise PlannerInputError(f"unknown model '{name}'; valid models: {', '.join(model_names())}")
    path = MODELS_DIR / name / "config.json"
    return parse_hf_config(json.loads(path.read_text(encoding="utf-8")), name, where=str(path))


def load_model_config_file(path: str) -> ModelSpec:
    """Any Hugging Face config.json on disk (`--model-config PATH`)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlannerInputError(f"cannot read model config {path}: {exc.strerror or exc}") from exc
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlannerInputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    name = file.parent.name if file.name == "config.json" else file.stem
    return parse_hf_config(config, name or "custom", where=str(path))


def model_source(name: str) -> dict:
    """The model's `source.yaml` (url, retrieved date, notes, uncertain fields)."""
    import yaml

    return yaml.safe_load((MODELS_DIR / name / "source.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def load_gpu(name: str) -> GpuSpec:
    """The catalog GPU `name`; an unknown name lists the valid ones."""
    if name not in gpu_names():
        raise PlannerInputError(f"unknown GPU '{name}'; valid GPUs: {', '.join(gpu_names())}")
    import yaml

    return GpuSpec(**yaml.safe_load((GPUS_DIR / f"{name}.yaml").read_text(encoding="utf-8")))
