"""Switchyard routing policies: the YAML policy format, its loader and checks, and the pure
routing engine. Public interface (see ARCHITECTURE.md):

    policies.loader.load_policy / parse_policy_text -> Policy (raises PolicyError)
    policies.features.extract_features -> RequestFeatures
    policies.engine.decide(policy, features, snapshot, rng=None) -> Decision

This package never imports httpx, redis, fastapi, the gateway or backends.
"""
