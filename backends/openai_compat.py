"""One OpenAI-compatible client; every provider that speaks the OpenAI API is a thin subclass.

A subclass states, as data and one small method, what differs: default base URL, whether its
thinking mode is on by default, and how thinking is switched (`apply_thinking`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import httpx
import orjson

from backends.base import BackendOptions, UpstreamResponse, UpstreamStream
from backends.errors import (
    BackendConfigError,
    UpstreamAuthError,
    UpstreamClientError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamServerError,
)
from backends.http11 import Http11Pool
from backends.httpx_upstream import HttpxUpstream
from backends.sse import SseNormaliser, normalised_events, rename_reasoning
from backends.usage import parse_usage

__all__ = ["OpenAICompatBackend", "THINKING_SWITCHES"]

# Request keys through which some provider switches thinking mode; each adapter removes the
# others' switches and sets its own, so an upstream never sees a foreign (possibly rejected) key.
THINKING_SWITCHES: tuple[str, ...] = ("thinking", "enable_thinking", "reasoning_effort")
_TEMPLATE_SWITCHES: tuple[str, ...] = ("thinking", "enable_thinking")
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_REDACTED = "[redacted]"
_MIN_SECRET_CHARS = 8  # shorter extra-header values (e.g. "1") are not secrets and would redact ordinary words


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _upstream_message(status: int, content: bytes) -> str:
    try:
        error = orjson.loads(content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return content[:200].decode("utf-8", "replace") or f"HTTP {status}"


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def status_error(
    status: int, headers: Mapping[str, str], content: bytes, backend_name: str, secrets: tuple[str, ...] = ()
) -> UpstreamError:
    """Classify an upstream's non-200 answer.

    401/403: the upstream refused the gateway's own credential, so the client gets a 502 with a
    fixed message and none of the upstream's text (a provider may echo the key it was sent), and
    dispatch falls back as for a 5xx. 3xx: redirects are never followed (the gateway calls only
    configured URLs); a redirect is a misbehaving upstream, a server error like 5xx. Any other
    upstream text is relayed with `secrets` (this backend's credentials) redacted.
    """
    if status in (401, 403):
        return UpstreamAuthError(
            f"backend {backend_name} rejected the gateway's credential for it (upstream {status}); check its api_key",
            upstream_status=status,
        )
    if 300 <= status < 400:
        return UpstreamServerError(
            f"backend {backend_name} answered a redirect ({status}); redirects are not followed", upstream_status=status
        )
    message = _redact(f"backend {backend_name} answered {status}: {_upstream_message(status, content)}", secrets)
    if status == 429:
        return UpstreamRateLimitedError(message, upstream_status=status, retry_after_s=_retry_after_s(headers))
    if status >= 500 or status in (408, 409):
        return UpstreamServerError(message, upstream_status=status)
    return UpstreamClientError(message, status=status, upstream_status=status)


class OpenAICompatBackend:
    """A backend reached over OpenAI's HTTP API with one bounded pool of keep-alive connections.

    Plain http:// upstreams (self-hosted vLLM, SGLang, LM Studio) go through `Http11Pool`, the
    cheap path measured in `benchmarks/upstream_client.py`; https:// providers and an injected
    httpx transport (tests) go through `HttpxUpstream`. Both answer the same two calls.
    """

    type_name: ClassVar[str] = "openai"
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"
    thinking_on_by_default: ClassVar[bool] = False

    def __init__(self, options: BackendOptions, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        base_url = options.base_url or self.default_base_url
        if not base_url:
            raise BackendConfigError(f"backend {options.name}: type {self.type_name} needs a base_url")
        self.name = options.name
        self.model = options.model
        self.base_url = base_url.rstrip("/")
        self.timeouts = options.timeouts
        headers = dict(_JSON_HEADERS)
        headers.update(self.auth_headers(options.api_key))
        headers.update(options.extra_headers)
        secrets = {v for v in options.extra_headers.values() if len(v) >= _MIN_SECRET_CHARS}
        if options.api_key:
            secrets.add(options.api_key)
        self._secrets = tuple(sorted(secrets, key=len, reverse=True))  # redacted from upstream text passed on
        pool = {"name": self.name, "max_connections": options.max_connections, "connect_timeout_s": options.timeouts.connect_s}
        self._upstream: Http11Pool | HttpxUpstream
        if transport is None and self.base_url.startswith("http://"):
            self._upstream = Http11Pool(self.base_url, headers, **pool)
        else:
            self._upstream = HttpxUpstream(self.base_url, headers, transport=transport, **pool)

    # --- what subclasses change -------------------------------------------------------------

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Authentication for this provider; most take a bearer token."""
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        """Switch thinking mode on or off in `body` with this provider's own parameter."""
        if on:
            effort = client_body.get("reasoning_effort")
            body["reasoning_effort"] = effort if isinstance(effort, str) and effort != "none" else "medium"

    # --- the interface ----------------------------------------------------------------------

    def build_body(self, client_body: Mapping[str, Any], *, thinking: bool | None, stream: bool) -> dict[str, Any]:
        """A new upstream body: the client's parameters untouched, except model, usage and thinking."""
        body = dict(client_body)
        body["model"] = self.model
        if stream:
            options = client_body.get("stream_options")
            body["stream_options"] = {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
        if thinking is None and self.thinking_on_by_default:
            thinking = False  # a request that did not ask for thinking must not pay for it
        if thinking is not None:
            for key in THINKING_SWITCHES:
                body.pop(key, None)
            kwargs = client_body.get("chat_template_kwargs")
            if isinstance(kwargs, dict):
                kept = {k: v for k, v in kwargs.items() if k not in _TEMPLATE_SWITCHES}
                if kept:
                    body["chat_template_kwargs"] = kept
                else:
                    body.pop("chat_template_kwargs")
            self.apply_thinking(body, thinking, client_body)
        return body

    async def complete(self, body: dict[str, Any], path: str) -> UpstreamResponse:
        response = await self._upstream.request(path, orjson.dumps(body), timeout_s=self.timeouts.total_s)
        content = response.body
        if response.status != 200:
            raise status_error(response.status, response.headers, content, self.name, self._secrets)
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamServerError(f"backend {self.name} sent a malformed JSON body", upstream_status=200) from exc
        if not isinstance(parsed, dict) or (parsed.get("error") and not parsed.get("choices")):
            message = parsed.get("error") if isinstance(parsed, dict) else parsed
            message = _redact(f"backend {self.name} answered 200 with an error: {message}", self._secrets)
            raise UpstreamServerError(message, upstream_status=200)
        if b'"reasoning":' in content:
            renamed = [rename_reasoning(c.get("message") or {}) for c in parsed.get("choices") or ()]
            if any(renamed):
                content = orjson.dumps(parsed)
        return UpstreamResponse(status=200, content=content, usage=parse_usage(parsed.get("usage")), model=parsed.get("model"))

    def stream(self, body: dict[str, Any], path: str, *, client_wants_usage: bool) -> UpstreamStream:
        stream = UpstreamStream()
        normaliser = SseNormaliser(stream, client_wants_usage=client_wants_usage)
        events = normalised_events(self._raw_stream(body, path), normaliser, total_s=self.timeouts.total_s)
        return stream.attach(self._redacting(events) if self._secrets else events)

    async def _redacting(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`events`, with this backend's credentials removed from the message of any failure (an
        error event inside the stream carries the upstream's own text)."""
        try:
            async for event in events:
                yield event
        except UpstreamError as exc:
            exc.message = _redact(exc.message, self._secrets)
            exc.args = (exc.message,)
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _raw_stream(self, body: dict[str, Any], path: str) -> AsyncIterator[bytes]:
        response = await self._upstream.stream(path, orjson.dumps(body), read_timeout_s=self.timeouts.first_token_s)
        try:
            if response.status != 200:
                raise status_error(response.status, response.headers, await response.read(), self.name, self._secrets)
            async for chunk in response:
                yield chunk
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._upstream.aclose()
