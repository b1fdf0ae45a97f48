"""`${VAR}` and `${VAR:-default}` expansion in policy strings; `$$` is a literal `$`.

Errors name the variable, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["expand_env"]

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def expand_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with every `${...}` replaced, and a message per unset or malformed reference.

    `${VAR:-default}` uses the default when VAR is unset or empty (as in POSIX sh).
    """
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        body = match.group(1)
        if body is None:
            problems.append("unclosed '${' (write ${VAR} or ${VAR:-default}; $$ for a literal $)")
            return token
        name, has_default, default = body.partition(":-")
        if not _NAME.match(name):
            problems.append(f"malformed variable reference '${{{body}}}'")
            return token
        value = env.get(name)
        if value:
            return value
        if has_default:
            return default
        if value is None:
            problems.append(
                f"environment variable {name} is not set; export it or write ${{{name}:-default}}"
            )
        return ""

    if "$" not in text:
        return text, problems
    return _TOKEN.sub(replace, text), problems
