"""httpx behind the same two calls as `backends.http11.Http11Pool`: for https:// upstreams and tests.

Managed providers (https://) are reached with httpx: TLS, proxies and odd servers are its job,
and their network latency dwarfs its CPU cost. A test injects an `httpx.AsyncBaseTransport`
(e.g. `httpx.MockTransport`) through the backend's `transport=` seam, which also lands here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from backends.errors import UpstreamConnectError, UpstreamError, UpstreamServerError, UpstreamTimeoutError
from backends.http11 import Http11Response

__all__ = ["HttpxUpstream", "HttpxStream", "transport_error"]


def transport_error(exc: httpx.HTTPError, backend_name: str) -> UpstreamError:
    """Classify an httpx failure (no usable answer from the upstream)."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return UpstreamConnectError(f"backend {backend_name} is unreachable: {type(exc).__name__}")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(f"backend {backend_name} timed out: {type(exc).__name__}")
    return UpstreamServerError(f"backend {backend_name} failed: {type(exc).__name__}: {exc}")


class HttpxStream:
    """An httpx streamed response with `Http11Stream`'s shape."""

    __slots__ = ("status", "headers", "_response", "_name")

    def __init__(self, response: httpx.Response, name: str) -> None:
        self._response = response
        self._name = name
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._name) from exc

    async def read(self) -> bytes:
        try:
            return await self._response.aread()
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._name) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxUpstream:
    """One pooled keep-alive `httpx.AsyncClient` for one upstream; never follows redirects."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        name: str,
        max_connections: int,
        connect_timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self._connect_timeout_s = connect_timeout_s
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30.0),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def request(self, path: str, body: bytes, *, timeout_s: float) -> Http11Response:
        """POST `body` and read the whole answer."""
        try:
            response = await self._client.post(path, content=body, timeout=httpx.Timeout(timeout_s, connect=self._connect_timeout_s))
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from exc
        return Http11Response(response.status_code, dict(response.headers), response.content)

    async def stream(self, path: str, body: bytes, *, read_timeout_s: float) -> HttpxStream:
        """POST `body` and return once the headers arrived."""
        timeout = httpx.Timeout(read_timeout_s, connect=self._connect_timeout_s)
        request = self._client.build_request("POST", path, content=body, timeout=timeout)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from exc
        return HttpxStream(response, self.name)

    async def aclose(self) -> None:
        await self._client.aclose()
