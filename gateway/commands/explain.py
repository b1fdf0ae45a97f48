"""`gateway explain --config FILE --request body.json`: the routing decision for one request,
offline: no backend is called. Optional `--state` gives backends' live figures to simulate load.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show where a request would be routed, and why",
        description="Print the decision (route, chain, every candidate's reason and expected cost) "
        "as JSON, without calling any backend.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="policy YAML file")
    parser.add_argument("--request", required=True, metavar="FILE", help="chat/completions JSON body ('-' = stdin)")
    parser.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'", help="request header (repeatable)"
    )
    parser.add_argument("--key-tags", default="", metavar="A,B", help="tags of the calling API key")
    parser.add_argument(
        "--state", metavar="FILE",
        help="JSON {backend: {waiting: 20, ttft_p95_ms: 900, circuit_open: true, ...}} to simulate live state",
    )
    parser.add_argument(
        "--format", choices=("json", "text"), default="json",
        help="json (the contract, default) or text (a few lines to read at a glance)",
    )
    parser.add_argument(
        "--remembered", metavar="BACKEND",
        help="for a route with `affinity:`: the backend a live gateway's affinity store remembers for this "
        "request's key (offline there is no store, so the affinity is otherwise 'not looked up')",
    )
    parser.set_defaults(func=run)


def _read_json(path: str, what: str) -> Any:
    import json

    from gateway.cli import CliError

    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        return json.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CliError(f"{what} {path} is not valid JSON: {exc}") from None


def _headers(pairs: list[str]) -> dict[str, str]:
    from gateway.cli import CliError

    headers = {}
    for pair in pairs:
        name, colon, value = pair.partition(":")
        if not colon or not name.strip():
            raise CliError(f"--header wants 'NAME: VALUE', got {pair!r}")
        headers[name.strip()] = value.strip()
    return headers


def _snapshot(path: str | None) -> dict:
    from pydantic import TypeAdapter, ValidationError

    from gateway.cli import CliError
    from policies.state import BackendState

    if path is None:
        return {}
    raw = _read_json(path, "state file")
    known = set(BackendState.__dataclass_fields__)
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise CliError(f"state file {path} must map backend names to objects")
    for backend, fields in raw.items():
        unknown = sorted(set(fields) - known)
        if unknown:
            valid = ", ".join(sorted(known))
            raise CliError(f"state file {path}: {backend}: unknown field {unknown[0]!r} (valid: {valid})")
    try:
        return TypeAdapter(dict[str, BackendState]).validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CliError(f"state file {path}: {where}: {first['msg']}") from None


def _with_remembered(policy: Any, features: Any, body: dict, backend: str) -> Any:
    """`features` as a live gateway hands them to `decide` when its store remembers `backend` for the key."""
    from dataclasses import replace

    from gateway.cli import CliError
    from policies.affinity import AffinityLookup, affinity_key, cached_prefix_share
    from policies.engine import matched_route

    route = matched_route(policy, features)
    if route is None or route.affinity is None:
        why = "no route matches this request" if route is None else f"route {route.name!r} has no `affinity:`"
        raise CliError(f"--remembered {backend}: {why}")
    if backend not in policy.backends:
        raise CliError(f"--remembered {backend}: no such backend in the policy")
    key = affinity_key(route.name, route.affinity, body, features.headers)
    return replace(features, affinity=AffinityLookup(route.affinity.key, key, backend, cached_prefix_share(body)))


def run(args: argparse.Namespace) -> int:
    import json
    import random

    from gateway.cli import CliError
    from policies.decision import DecisionReport
    from policies.engine import decide
    from policies.errors import NoCandidateError, PolicyError, RoutingError
    from policies.features import extract_features
    from policies.loader import load_policy

    try:
        policy = load_policy(args.config)
    except PolicyError as exc:
        for issue in exc.issues:
            sys.stderr.write(f"{issue}\n")
        return 2
    body = _read_json(args.request, "request file")
    if not isinstance(body, dict):
        raise CliError(f"request file {args.request} must hold a JSON object")
    tags = frozenset(tag.strip() for tag in args.key_tags.split(",") if tag.strip())
    features = extract_features(body, _headers(args.header), policy, key_tags=tags)
    if args.remembered is not None:
        features = _with_remembered(policy, features, body, args.remembered)
    try:
        decision = decide(policy, features, _snapshot(args.state), rng=random.Random(0))
    except RoutingError as exc:
        error = {"message": str(exc), "type": exc.error_type, "code": exc.code, "status": exc.http_status}
        if isinstance(exc, NoCandidateError):
            error["dropped"] = [{"backend": b, "reason": r} for b, r in exc.reasons]
        sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
        return 1
    report = DecisionReport.from_decision(decision)
    if args.format == "text":
        from gateway.commands.explain_text import decision_text

        sys.stdout.write(decision_text(report))
    else:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    return 0
