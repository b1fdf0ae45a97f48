"""Reading a translator's SSE bytes back in tests: each event's name must equal its data's `type`."""

from __future__ import annotations

from typing import Any

import orjson


def named_events(raw: bytes) -> list[dict[str, Any]]:
    """The `data` objects of `event: NAME` / `data: {...}` events, checking NAME == data["type"]."""
    parsed = []
    for event in raw.split(b"\n\n"):
        if event:
            name, data = event.split(b"\n")
            body = orjson.loads(data[6:])
            assert name == b"event: " + body["type"].encode()
            parsed.append(body)
    return parsed
