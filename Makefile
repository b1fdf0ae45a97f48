# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test install install-dev console-screenshot clean

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

clean:
	rm -rf $(VENV) build *.egg-info
