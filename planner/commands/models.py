"""`planner models`: the model catalog with parameter counts and sources."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list catalog models", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from planner.catalog import load_model, model_names, model_source
    from planner.params import param_counts

    rows = []
    for name in model_names():
        spec = load_model(name)
        counts = param_counts(spec)
        rows.append({
            "name": name,
            "architecture": spec.architecture,
            "attention": spec.attention + ("+dsa" if spec.has_dsa else ""),
            "total_params": counts.total,
            "active_params": counts.active,
            "native_weights_dtype": spec.native_weights_dtype,
            "max_position_embeddings": spec.max_position_embeddings,
            "source": model_source(name).get("url"),
        })
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    sys.stdout.write(f"{'model':<32} {'architecture':<24} {'attn':<8} {'total':>8} {'active':>8} {'dtype':<5} {'context':>8}\n")
    for r in rows:
        sys.stdout.write(
            f"{r['name']:<32} {r['architecture']:<24} {r['attention']:<8} {r['total_params'] / 1e9:>7.1f}B "
            f"{r['active_params'] / 1e9:>7.1f}B {r['native_weights_dtype']:<5} {r['max_position_embeddings']:>8,}\n"
        )
    return 0
