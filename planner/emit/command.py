"""The emitted launch command: argv per node, rendered as shell text."""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["EmittedCommand", "NodeCommand", "shell_join"]

# `${VAR}` (optionally with a literal suffix such as `:20000`) stays expandable in the shell text.
_ENV_REFERENCE = re.compile(r"^[A-Za-z0-9_.:/=-]*\$\{[A-Za-z_][A-Za-z0-9_]*\}[A-Za-z0-9_.:/=-]*$")


def shell_join(argv: list[str]) -> str:
    """Quote `argv` for a POSIX shell; `${VAR}` references are double-quoted so they expand."""
    return " ".join(f'"{arg}"' if _ENV_REFERENCE.match(arg) else shlex.quote(arg) for arg in argv)


class NodeCommand(BaseModel):
    """What to run on one node, in order (e.g. `ray start` before `vllm serve`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_rank: int
    role: Literal["head", "worker"]
    argvs: list[list[str]]

    @property
    def shell(self) -> str:
        return "\n".join(shell_join(argv) for argv in self.argvs)


class EmittedCommand(BaseModel):
    """An engine launch for one deployment: per-node argv lists, shell text and environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Literal["vllm", "sglang"]
    engine_version: str
    """The engine release whose documented flags these are (see planner/emit/data/)."""
    model: str
    nodes: list[NodeCommand]
    env: dict[str, str]
    """Variables to export before launching; none are needed by these releases' DeepSeek commands."""
    notes: list[str]
    shell: str

    @classmethod
    def build(
        cls,
        engine: Literal["vllm", "sglang"],
        engine_version: str,
        model: str,
        nodes: list[NodeCommand],
        env: dict[str, str],
        notes: list[str],
    ) -> EmittedCommand:
        exports = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        if len(nodes) == 1:
            shell = "\n".join([*exports, nodes[0].shell])
        else:
            blocks = [f"# node {node.node_rank} ({node.role})\n" + "\n".join([*exports, node.shell]) for node in nodes]
            shell = "\n\n".join(blocks)
        return cls(
            engine=engine, engine_version=engine_version, model=model, nodes=nodes, env=env, notes=notes, shell=shell
        )
