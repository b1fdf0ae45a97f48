"""`gateway schema`: print the policy file's JSON Schema (for editors: `gateway schema > policy.schema.json`)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "policy_json_schema"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schema", help="print the policy file's JSON Schema")
    parser.set_defaults(func=run)


def policy_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a policy file, generated from `policies.schema.Policy`."""
    from policies.schema import Policy

    schema = Policy.model_json_schema()
    schema.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "Switchyard routing policy", **schema}


def run(args: argparse.Namespace) -> int:
    import json

    sys.stdout.write(json.dumps(policy_json_schema(), indent=2) + "\n")
    return 0
