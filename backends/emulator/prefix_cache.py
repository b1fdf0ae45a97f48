"""A deterministic prefix-cache simulation: a prompt whose leading messages were seen before is
served partly from cache, in whole blocks, as vLLM/SGLang automatic prefix caching and DeepSeek's
context caching (64-token units) do."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import orjson

from backends.emulator.answer import estimate_tokens

__all__ = ["PrefixCache"]


class PrefixCache:
    """LRU set of message-prefix hashes with their token counts."""

    def __init__(self, block_tokens: int, capacity: int = 10_000) -> None:
        self.block_tokens = max(1, block_tokens)
        self.capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def lookup_and_insert(self, messages: Sequence[object]) -> int:
        """Cached tokens for this prompt (longest seen prefix, whole blocks), then remember it."""
        digest = hashlib.blake2b(digest_size=16)
        tokens = 0
        cached = 0
        for message in messages:
            encoded = orjson.dumps(message)
            digest.update(encoded)
            tokens += estimate_tokens(encoded.decode(errors="replace"))
            key = digest.digest()
            if key in self._seen:
                self._seen.move_to_end(key)
                cached = tokens
            else:
                self._seen[key] = tokens
                if len(self._seen) > self.capacity:
                    self._seen.popitem(last=False)
        return cached - cached % self.block_tokens
