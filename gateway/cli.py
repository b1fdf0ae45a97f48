"""`gateway` command line: one sub-command per module in `gateway.commands`.

Each command module exposes `register(subparsers)` and sets `func(args) -> int` on its parser.
Heavy imports (fastapi, uvicorn, httpx) happen inside each command's `func`, not here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gateway.errors import CliError

__all__ = ["main", "build_parser", "CliError"]

COMMAND_MODULES: tuple[str, ...] = (
    "serve", "emulate", "check", "explain", "schema", "keys", "spend", "usage", "simulate", "trace",
)


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="gateway", description="Switchyard OpenAI-compatible gateway.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gateway.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gateway.commands.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        sys.stderr.write(f"gateway: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
