"""Load a policy file: YAML with marks -> `${VAR}` expansion -> pydantic -> semantic checks ->
compiled for the hot path. Every problem is reported as `FILE:LINE:COL: message`, all at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from policies.compiled import compiled
from policies.errors import PolicyError, PolicyIssue
from policies.schema import Policy
from policies.semantic_checks import check_policy
from policies.validation_messages import FieldProblem, describe_validation_error
from policies.yaml_source import SourceMap, read_yaml

__all__ = ["load_policy", "parse_policy_text"]


def _issues(filename: str, source: SourceMap, problems: list[FieldProblem]) -> list[PolicyIssue]:
    located = []
    for problem in problems:
        line, column = source.locate(problem.path, at_key=problem.at_key)
        located.append(PolicyIssue(filename, line, column, problem.message))
    return sorted(located, key=lambda issue: (issue.line, issue.column))


def parse_policy_text(text: str, filename: str = "<policy>", env: Mapping[str, str] | None = None) -> Policy:
    """A validated, compiled Policy from YAML text; raises PolicyError listing every problem.

    `env` defaults to the process environment; it is used only to expand `${VAR}` and no
    variable's value ever appears in an error.
    """
    data, source, read_problems = read_yaml(text, os.environ if env is None else env)
    if read_problems:
        raise PolicyError([PolicyIssue(filename, p.line, p.column, p.message) for p in read_problems])
    if not isinstance(data, dict):
        message = "a policy file must be a mapping (version, backends, models, routes)"
        raise PolicyError([PolicyIssue(filename, 1, 1, message)])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_issues(filename, source, describe_validation_error(exc, data, Policy))) from None
    semantic = check_policy(policy)
    if semantic:
        raise PolicyError(_issues(filename, source, semantic))
    compiled(policy)
    return policy


def load_policy(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Policy:
    """Read and validate the policy file at `path`; raises PolicyError (also when unreadable)."""
    filename = os.fspath(path)
    try:
        text = Path(filename).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError([PolicyIssue(filename, 1, 1, f"cannot read policy file: {reason}")]) from None
    return parse_policy_text(text, filename, env)
