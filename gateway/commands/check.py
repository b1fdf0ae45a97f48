"""`gateway check FILE...`: validate policy files; each problem prints as FILE:LINE:COL: message."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate routing policy files",
        description="Validate policy files. Prints FILE:LINE:COL: message per problem (exit 1), "
        "or one OK line per file (exit 0). ${VAR} references are expanded from the environment.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy YAML file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from policies.errors import PolicyError
    from policies.loader import load_policy

    status = 0
    for filename in args.files:
        try:
            policy = load_policy(filename)
        except PolicyError as exc:
            for issue in exc.issues:
                sys.stderr.write(f"{issue}\n")
            status = 1
            continue
        routes = ", ".join(route.name for route in policy.routes)
        sys.stdout.write(
            f"{filename}: OK ({len(policy.backends)} backends, {len(policy.models)} models, "
            f"{len(policy.routes)} routes: {routes})\n"
        )
    return status
