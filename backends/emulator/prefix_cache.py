"""A deterministic prefix-cache simulation: a prompt whose leading messages were seen before is
served partly from cache, in whole blocks, as vLLM/SGLang automatic prefix caching and DeepSeek's
context caching (64-token units) do. One cache per emulator process: each emulated replica has its own.

An answer is cached too (`remember_answer`): vLLM hashes and caches every full KV block, those its
decode steps fill included (docs.vllm.ai/en/latest/design/prefix_caching, read 2026-12), so a next
turn that resends the answer finds it cached on the replica that generated it. Only a plain text
answer is: a reasoning answer's thinking is dropped from the next prompt by the chat template, so
the generated blocks stop matching where the thinking began."""

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

    def remember_answer(self, messages: Sequence[object], content: str) -> None:
        """Cache the prompt followed by its answer, as the client will send it back next turn."""
        self.lookup_and_insert([*messages, {"role": "assistant", "content": content}])
