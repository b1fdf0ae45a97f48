"""Write the compose or Kubernetes manifest of an emitted vLLM command, to a directory or stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from planner.emit.command import EmittedCommand
from planner.emit.compose import COMPOSE_FILENAME, render_compose
from planner.emit.container import cache_size_gib
from planner.emit.k8s import manifest_filename, render_k8s, render_pd_k8s
from planner.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.estimate import EstimateReport

__all__ = ["render_manifest", "write_manifest", "write_pd_manifest"]


def render_manifest(target: str, command: EmittedCommand, report: EstimateReport, family: str) -> tuple[str, str]:
    """(file name, YAML text) of `target` (`compose` or `k8s`) for the estimated deployment."""
    deployment = report.deployment
    port = _serve_port(command)
    if target == "compose":
        return COMPOSE_FILENAME, render_compose(command, deployment, family, port=port)
    cache_gib = cache_size_gib(report.model.total_params, deployment.weights_dtype)
    return (manifest_filename(deployment, command.engine),
            render_k8s(command, deployment, family, cache_gib=cache_gib, port=port))


def write_manifest(target: str, command: EmittedCommand, report: EstimateReport, family: str,
                   *, out_dir: str | None) -> int:  # fmt: skip
    """Print the manifest, or write it into `out_dir` and print its path; notes go to stderr."""
    filename, text = render_manifest(target, command, report, family)
    return _write(filename, text, command.notes, out_dir)


def write_pd_manifest(prefill: EmittedCommand, prefill_report: EstimateReport, decode: EmittedCommand,
                      decode_report: EstimateReport, instances: tuple[int, int], family: str, *, out_dir: str | None) -> int:
    """Kubernetes manifests of both pools (and the SGLang router) of a disaggregated deployment."""
    d = decode_report.deployment
    cache_gib = cache_size_gib(decode_report.model.total_params, d.weights_dtype)
    text = render_pd_k8s(prefill, prefill_report.deployment, instances[0], decode, d, instances[1], family,
                         cache_gib=cache_gib, port=_serve_port(decode))
    filename = manifest_filename(d, decode.engine, prefix=f"pd-{instances[0]}p{instances[1]}d-")
    return _write(filename, text, list(dict.fromkeys([*prefill.notes, *decode.notes])), out_dir)


def _write(filename: str, text: str, notes: list[str], out_dir: str | None) -> int:
    if out_dir is None:
        sys.stdout.write(text)
    else:
        path = Path(out_dir) / filename
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise PlannerInputError(f"--out {out_dir}: cannot write {filename}: {exc.strerror}") from exc
        sys.stdout.write(f"wrote {path}\n")
    for note in notes:
        if "HEAD_NODE_IP" not in note:  # the manifests set the head address themselves
            sys.stderr.write(f"# note: {note}\n")
    return 0


def _serve_port(command: EmittedCommand) -> int:
    serve = next(argv for argv in command.nodes[0].argvs if argv[0] in ("vllm", "python3"))
    return int(serve[serve.index("--port") + 1])
