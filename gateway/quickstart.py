"""What `make run` serves (`gateway serve --quickstart`): the demo's emulated backends when the
environment names no upstream, else `policies/default.yaml` cut down to the backends the
environment configures, so a user with only `DEEPSEEK_API_KEY` (or only `VLLM_BASE_URL`) set gets
a working gateway on exactly those.

A backend of the default policy counts as configured when the environment supplies every `${VAR}`
its entry needs (those without a `:-default`) and at least one `${VAR}` it names: `local-v32` needs
`VLLM_BASE_URL`, `novita-v32` needs `NOVITA_API_KEY`, and so on. Routes keep the configured
backends of their `use` (a route left with none is dropped), and model aliases pinned to a family
no kept backend serves are dropped. The result is written to the data directory and served from
there, so the start-up line names a file the user can read (and copy as a starting point).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.data_dir import data_dir

__all__ = ["DEFAULT_POLICY_PATH", "configured_backends", "quickstart_policy_text", "write_quickstart_policy"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def _variables(node: Any) -> list[tuple[str, bool]]:
    """Every `${VAR}` named under `node`, with whether it has a default."""
    return [(m.group(1), m.group(2) is not None) for m in _VARIABLE.finditer(yaml.safe_dump(node))]


def configured_backends(backends: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The backends whose required variables the environment sets (see the module docstring)."""
    kept = []
    for name, spec in backends.items():
        named = _variables(spec)
        needed_set = all(env.get(var) for var, has_default in named if not has_default)
        if named and needed_set and any(env.get(var) for var, _ in named):
            kept.append(name)
    return kept


def quickstart_policy_text(env: Mapping[str, str], default_policy: Path = DEFAULT_POLICY_PATH) -> str | None:
    """The default policy restricted to the configured backends, as YAML; None when none is configured."""
    raw = yaml.safe_load(default_policy.read_text(encoding="utf-8"))
    fallback = raw.get("fallback") or {}
    if True in fallback:  # YAML 1.1 reads the key `on` as a boolean; the policy loader reads it as text
        fallback["on"] = fallback.pop(True)
    kept = configured_backends(raw["backends"], env)
    if not kept:
        return None
    raw["backends"] = {name: spec for name, spec in raw["backends"].items() if name in kept}
    families = {spec.get("family") for spec in raw["backends"].values()}
    raw["models"] = {
        alias: spec for alias, spec in raw["models"].items() if not (spec or {}).get("family") or spec["family"] in families
    }
    routes = []
    for route in raw["routes"]:
        use = [name for name in route["use"] if name in kept]
        if use:
            routes.append({**route, "use": use})
            if "weights" in route:
                routes[-1]["weights"] = {name: w for name, w in route["weights"].items() if name in kept}
    raw["routes"] = routes
    header = (
        f"# Written by `gateway serve --quickstart` (make run) from {default_policy.name}, keeping the backends\n"
        f"# the environment configures: {', '.join(kept)}. Edit a copy and serve it with --config.\n"
    )
    return header + yaml.safe_dump(raw, sort_keys=False, default_flow_style=False)


def write_quickstart_policy(env: Mapping[str, str], directory: Path | None = None) -> Path | None:
    """Write the quickstart policy and return its path; None when the environment names no upstream."""
    text = quickstart_policy_text(env)
    if text is None:
        return None
    target = (directory or data_dir()) / "quickstart-policy.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
