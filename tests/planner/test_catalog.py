"""The bundled catalog: every model and GPU present, every figure sourced and dated."""

from __future__ import annotations

import pytest
import yaml

from planner.catalog import GPUS_DIR, gpu_names, load_gpu, load_model, model_names, model_source
from planner.errors import PlannerInputError

REQUIRED_MODELS = {
    "deepseek-v3.2", "deepseek-v3.2-exp", "deepseek-v3.1-terminus", "deepseek-v3.1", "deepseek-v3-0324",
    "deepseek-v3", "deepseek-r1", "deepseek-r1-0528", "deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-7b",
    "deepseek-r1-distill-qwen-14b", "deepseek-r1-distill-qwen-32b", "deepseek-r1-distill-llama-8b",
    "deepseek-r1-distill-llama-70b", "qwen2.5-coder-32b",
}
REQUIRED_GPUS = {"h100", "h100-pcie", "h200", "h20", "h800", "b200", "a100", "mi300x", "l40s"}


def test_catalog_has_every_required_model_and_gpu():
    assert REQUIRED_MODELS <= set(model_names())
    assert REQUIRED_GPUS <= set(gpu_names())


@pytest.mark.parametrize("name", sorted(REQUIRED_MODELS | {"glm-5"}))
def test_every_model_config_loads_and_names_its_source(name):
    load_model(name)
    source = model_source(name)
    assert source["url"].startswith("https://") and source["retrieved"] and source["notes"]
    assert isinstance(source["uncertain_fields"], list)


@pytest.mark.parametrize("name", sorted(REQUIRED_GPUS))
def test_every_gpu_figure_has_a_source_and_a_date(name):
    raw = yaml.safe_load((GPUS_DIR / f"{name}.yaml").read_text())
    figures = {k: v for k, v in raw.items() if isinstance(v, dict)}
    assert len(figures) == 8
    for key, figure in figures.items():
        assert figure["source"].strip() and str(figure["date"]).strip(), key
    gpu = load_gpu(name)
    assert gpu.memory_bytes > 40 * 2**30 and gpu.hbm_bandwidth_bytes_per_s > 5e11 and gpu.usd_per_hour.value > 0


def test_h100_fp8_figure_is_dense_not_sparse():
    # NVIDIA datasheet: 3,958 TFLOPS FP8 "with sparsity"; dense is half
    assert load_gpu("h100").fp8_dense_tflops.value == pytest.approx(1978.9)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(PlannerInputError, match="valid models: .*deepseek-v3.2"):
        load_model("deepseek-v9")
    with pytest.raises(PlannerInputError, match="valid GPUs: a100, b200"):
        load_gpu("tpu")
