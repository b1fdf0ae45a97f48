"""CPU the translating front doors spend per request, in process: request in, a 20-token answer out.

Usage: .venv/bin/python benchmarks/translation.py [--requests N]

Times, for the Anthropic Messages and the OpenAI Responses translators (gateway/protocols/), the
request translated to the chat form, then a non-streamed chat answer translated back, then a
streamed one (the relayed chat chunks of a 20-token answer, as the benchmarks' minimal upstream
sends them, fed one by one). No network and no gateway process: this isolates the translation
that `benchmarks/overhead.py` measures end to end, so it can be compared on a busy machine too.
Prints the median of 5 runs in microseconds per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from gateway.protocols import anthropic_messages as am  # noqa: E402
from gateway.protocols import openai_responses as orp  # noqa: E402

TOKENS = 20
_HEADER = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "bench-upstream"}


def _chunk(choice: dict, **extra: object) -> bytes:
    return b"data: " + orjson.dumps({**_HEADER, "choices": [choice], **extra}) + b"\n\n"


def relayed_chunks() -> list[bytes]:
    """What dispatch relays for a 20-token streamed answer: role chunk, tokens, finish with usage, [DONE]."""
    chunks = [_chunk({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None})]
    chunks += [_chunk({"index": 0, "delta": {"content": f" word{i}"}, "finish_reason": None}) for i in range(TOKENS)]
    chunks.append(_chunk({"index": 0, "delta": {}, "finish_reason": "length"}, usage={"prompt_tokens": 10, "completion_tokens": TOKENS}))
    chunks.append(b"data: [DONE]\n\n")
    return chunks


def completion() -> bytes:
    message = {"role": "assistant", "content": "".join(f" word{i}" for i in range(TOKENS))}
    return orjson.dumps({**_HEADER, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "length"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": TOKENS}})


def _anthropic(stream_chunks: list[bytes], whole: bytes) -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": TOKENS, "messages": [{"role": "user", "content": "Say hello."}]}
    am.to_chat(body)
    am.message_from_chat(whole, message_id="msg_bench", model=body["model"], input_estimate=8)
    stream = am.AnthropicStream(message_id="msg_bench", model=body["model"], input_estimate=8)
    for chunk in stream_chunks:
        stream.feed(chunk)


def _responses(stream_chunks: list[bytes], whole: bytes) -> None:
    body = {"model": "gpt-5", "input": "Say hello.", "max_output_tokens": TOKENS}
    orp.to_chat(body)
    skeleton = orp.ResponseSkeleton(body, response_id="resp_bench")
    orjson.dumps(orp.response_from_chat(whole, skeleton))
    stream = orp.ResponsesStream(skeleton)
    for chunk in stream_chunks:
        stream.feed(chunk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU per request of the protocol translators, in process.")
    parser.add_argument("--requests", type=int, default=2000, help="requests per run (default 2000)")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    chunks, whole = relayed_chunks(), completion()
    print(f"per request: the request translated, a whole {TOKENS}-token answer and a streamed one translated back")
    for name, translate in (("anthropic-messages", _anthropic), ("openai-responses", _responses)):
        runs = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(args.requests):
                translate(chunks, whole)
            runs.append((time.process_time() - started) / args.requests * 1e6)
        print(f"  {name:<19} {statistics.median(runs):7.1f} us (median of 5 runs of {args.requests})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
