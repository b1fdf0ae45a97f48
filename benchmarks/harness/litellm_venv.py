"""A separate venv with LiteLLM Proxy 1.110.2, built on demand for the overhead benchmark.

`litellm[proxy]==1.110.2` pins side packages (`litellm-proxy`, `litellm-enterprise`,
`litellm-proxy-extras`) at versions the package index here may lack, so the build installs the
litellm wheel, reads the proxy requirements from the wheel's own metadata (`Requires-Dist: ...;
extra == "proxy"`), and installs those with each missing side package replaced by its nearest
available release (the newest at or below the pin, else the oldest above it; dropped if there
is none: the proxy's code ships inside the litellm wheel itself). Never litellm 1.82.7 or 1.82.8.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

__all__ = [
    "DEFAULT_VENV_DIR", "LITELLM_VERSION", "LitellmVenvError", "build_litellm_venv", "litellm_executable", "venv_is_ready",
]

LITELLM_VERSION = "1.110.2"
FORBIDDEN_LITELLM_VERSIONS = frozenset({"1.82.7", "1.82.8"})  # compromised releases
SIDE_PACKAGES = frozenset({"litellm-proxy", "litellm-enterprise", "litellm-proxy-extras"})
DEFAULT_VENV_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "switchyard" / f"litellm-proxy-{LITELLM_VERSION}"
READY_MARKER = ".switchyard-ready.json"
PIP_TIMEOUT_S = 1800

# Runs inside the new venv: the proxy extra's requirements of the installed litellm, markers evaluated.
_PROXY_REQUIREMENTS_SCRIPT = """
import importlib.metadata, json
from packaging.requirements import Requirement
found = []
for text in importlib.metadata.requires("litellm") or []:
    requirement = Requirement(text)
    if requirement.marker is None or "extra" not in str(requirement.marker):
        continue
    if requirement.marker.evaluate({"extra": "proxy"}):
        requirement.marker = None
        found.append(str(requirement))
print(json.dumps({"version": importlib.metadata.version("litellm"), "proxy_requirements": found}))
"""


class LitellmVenvError(RuntimeError):
    """The LiteLLM Proxy venv could not be built or is not the pinned version."""


def litellm_executable(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "litellm"


def venv_is_ready(venv_dir: Path) -> bool:
    """True when a previous build finished and its litellm is the pinned version."""
    marker = venv_dir / READY_MARKER
    if not (marker.is_file() and litellm_executable(venv_dir).exists()):
        return False
    try:
        return json.loads(marker.read_text()).get("litellm") == LITELLM_VERSION
    except (OSError, ValueError):
        return False


def _run(argv: list[str], log: Callable[[str], None]) -> subprocess.CompletedProcess[str]:
    log("$ " + " ".join("<script>" if "\n" in arg or len(arg) > 200 else arg for arg in argv))
    return subprocess.run(argv, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)


def _available_versions(python: Path, name: str, log: Callable[[str], None]) -> list[Version]:
    done = _run([str(python), "-m", "pip", "index", "versions", name], log)
    match = re.search(r"Available versions:\s*(.+)", done.stdout)
    versions: list[Version] = []
    for text in (match.group(1).split(",") if match else ()):
        try:
            versions.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return versions


def nearest_version(pinned: Version, available: list[Version]) -> Version | None:
    """The newest available version at or below `pinned`, else the oldest above it, else None."""
    at_or_below = [v for v in available if v <= pinned]
    if at_or_below:
        return max(at_or_below)
    return min(available) if available else None


def _resolve_side_package(python: Path, requirement: Requirement, log: Callable[[str], None]) -> str | None:
    pins = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
    available = _available_versions(python, requirement.name, log)
    if pins and Version(pins[0]) in available:
        return str(requirement)
    chosen = nearest_version(Version(pins[0]), available) if pins else (max(available) if available else None)
    if chosen is None:
        log(f"  {requirement.name}: not on the package index; skipped (its code ships in the litellm wheel)")
        return None
    log(f"  {requirement}: not on the index; using the nearest available {requirement.name}=={chosen}")
    return f"{requirement.name}=={chosen}"


def build_litellm_venv(venv_dir: Path, log: Callable[[str], None]) -> dict[str, str]:
    """Create `venv_dir` with LiteLLM Proxy; return the versions installed. Slow (minutes) the first time."""
    python = venv_dir / "bin" / "python"
    if not python.exists():
        done = _run([sys.executable, "-m", "venv", str(venv_dir)], log)
        if done.returncode != 0:
            raise LitellmVenvError(f"could not create a venv at {venv_dir}: {done.stderr.strip()[-500:]}")
    pin = f"litellm=={LITELLM_VERSION}"
    done = _run([str(python), "-m", "pip", "install", "-q", pin], log)
    if done.returncode != 0:
        raise LitellmVenvError(f"pip could not install {pin}: {done.stderr.strip()[-800:]}")
    probe = _run([str(python), "-c", _PROXY_REQUIREMENTS_SCRIPT], log)
    if probe.returncode != 0:
        raise LitellmVenvError(f"could not read litellm's proxy requirements: {probe.stderr.strip()[-500:]}")
    found = json.loads(probe.stdout)
    if found["version"] != LITELLM_VERSION or found["version"] in FORBIDDEN_LITELLM_VERSIONS:
        raise LitellmVenvError(f"the venv holds litellm {found['version']}, not {LITELLM_VERSION}")
    requirements: list[str] = []
    for text in found["proxy_requirements"]:
        requirement = Requirement(text)
        if requirement.name in SIDE_PACKAGES:
            resolved = _resolve_side_package(python, requirement, log)
            if resolved is not None:
                requirements.append(resolved)
        else:
            requirements.append(text)
    done = _run([str(python), "-m", "pip", "install", "-q", pin, *requirements], log)
    if done.returncode != 0:
        raise LitellmVenvError(f"pip could not install LiteLLM Proxy's requirements: {done.stderr.strip()[-1500:]}")
    side_packages = [name for name in (Requirement(r).name for r in requirements) if name in SIDE_PACKAGES]
    versions = _installed_versions(python, ["litellm", *side_packages], log)
    if versions.get("litellm") != LITELLM_VERSION:
        raise LitellmVenvError(f"after the proxy requirements the venv holds litellm {versions.get('litellm')}, not {LITELLM_VERSION}")
    (venv_dir / READY_MARKER).write_text(json.dumps(versions, indent=2) + "\n")
    return versions


def _installed_versions(python: Path, names: list[str], log: Callable[[str], None]) -> dict[str, str]:
    script = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    done = _run([str(python), "-c", script, *names], log)
    if done.returncode != 0:
        raise LitellmVenvError(f"could not read installed versions: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)
