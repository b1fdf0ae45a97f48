"""SSE normalising: runs of plain events pass through unparsed, and the result is the same as parsing every event."""

from __future__ import annotations

import random

import orjson
import pytest

from backends.base import UpstreamStream
from backends.errors import UpstreamMidstreamError
from backends.sse import SseNormaliser, normalised_events

USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
DONE = b"data: [DONE]\n\n"


def _event(delta: dict | None = None, finish: str | None = None, usage: dict | None = None, choices: bool = True,
           spaced: bool = False) -> bytes:
    obj: dict = {"id": "c", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []}
    if usage is not None:
        obj["usage"] = usage
    data = orjson.dumps(obj)
    if spaced:
        data = data.replace(b'"finish_reason":null', b'"finish_reason": null')
    return b"data: " + data + b"\n\n"


async def _relay(parts: list[bytes], wants_usage: bool) -> tuple[bytes, UpstreamStream]:
    async def reads():
        for part in parts:
            yield part

    stream = UpstreamStream()
    normaliser = SseNormaliser(stream, client_wants_usage=wants_usage)
    return b"".join([chunk async for chunk in normalised_events(reads(), normaliser, total_s=5)]), stream


def _parse_every_event(whole: bytes, wants_usage: bool) -> list[dict]:
    """What the client must get, worked out the slow way."""
    expected = []
    for event in whole.split(b"\n\n")[:-1]:
        if not event.startswith(b"data: ") or event == DONE.strip():
            continue
        obj = orjson.loads(event[6:])
        if "usage" in obj and not wants_usage:
            if not obj["choices"]:
                continue
            del obj["usage"]
        for choice in obj["choices"]:
            if "reasoning" in choice["delta"]:
                choice["delta"]["reasoning_content"] = choice["delta"].pop("reasoning")
        expected.append(obj)
    return expected


@pytest.mark.parametrize("seed", range(40))
async def test_any_split_of_any_stream_gives_what_parsing_every_event_gives(seed: int) -> None:
    rng = random.Random(seed)
    events = [_event({"role": "assistant", "content": ""})]
    events += [_event({"content": f"w{i}"}, spaced=rng.random() < 0.3) for i in range(rng.randint(1, 30))]
    if rng.random() < 0.4:
        events.insert(2, b": keep-alive\n\n")
    if rng.random() < 0.4:
        events.insert(3, _event({"reasoning": "hm"}))
    usage_on_finish = rng.random() < 0.3
    events.append(_event(finish="stop", usage=USAGE if usage_on_finish else None))
    if not usage_on_finish:
        events.append(_event(usage=USAGE, choices=False))
    events.append(DONE)
    whole = b"".join(events)
    cuts = sorted(rng.sample(range(1, len(whole)), rng.randint(0, 8)))
    parts = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    wants_usage = rng.random() < 0.5

    text, stream = await _relay(parts, wants_usage)

    relayed = [orjson.loads(event[6:]) for event in text.split(b"\n\n")[:-1] if event != DONE.strip()]
    assert relayed == _parse_every_event(whole, wants_usage)
    assert text.endswith(DONE) and text.count(DONE) == 1
    assert stream.usage is not None and stream.usage.completion_tokens == 4


async def test_plain_events_after_the_first_content_go_out_byte_for_byte() -> None:
    plain = b"".join(_event({"content": f" w{i}"}, spaced=i % 2 == 0) for i in range(10))
    text, _ = await _relay([_event({"content": "a"}) + plain + _event(finish="stop") + DONE], wants_usage=False)
    assert plain in text


async def test_a_malformed_event_amid_plain_ones_still_fails_the_stream() -> None:
    parts = [_event({"content": "a"}), _event({"content": "b"}) + b'data: {"id": "c", "choices": [\n\n' + _event({"content": "c"})]
    with pytest.raises(UpstreamMidstreamError):
        await _relay(parts, wants_usage=False)
