"""`planner` command line: one sub-command per module in `planner.commands`.

Each command module exposes `register(subparsers)` and sets `func(args) -> int` on its parser.
User mistakes raise `PlannerInputError`; they are printed as one line on stderr with exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from planner.errors import PlannerInputError

__all__ = ["main", "build_parser"]

# Module names under planner.commands, in the order `planner --help` lists them.
COMMAND_MODULES: tuple[str, ...] = ("estimate", "models", "gpus", "plan", "emit", "calibrate")


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="planner", description="Size and price a DeepSeek deployment.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"planner.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"planner.commands.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PlannerInputError as exc:
        sys.stderr.write(f"planner: error: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
