"""Shared pieces of the gateway benchmarks (`benchmarks/overhead.py`, `benchmarks/load.py`).

One module per job: `processes` (start, poll readiness, stop), `loadgen` (bounded raw-HTTP load),
`stats` (latency percentiles), `procstat` (CPU time and RSS from /proc), `upstream` (a minimal
zero-delay OpenAI-compatible server), `nginx` (config writer), `litellm_venv` (LiteLLM Proxy venv).
"""
