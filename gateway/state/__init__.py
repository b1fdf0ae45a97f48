"""Live backend state behind one interface (in-memory now, Redis-backed in a later issue)."""
