"""`GET /ui/`: the web console's files (HTML, ES modules, CSS in `gateway/ui/static/`), served from memory.

The files are package data, read once when the app is built, so a page load does no disk I/O on
the event loop. They hold no data and no secret: everything the console shows comes from the
admin endpoints, called with the admin key the user types in (kept in sessionStorage, sent as
`Authorization`). Every answer here carries a strict Content-Security-Policy (scripts and styles
from this origin only, no inline code, no framing), `nosniff`, and `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

__all__ = ["STATIC_DIR", "SECURITY_HEADERS", "ConsoleAssets", "console_router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui" / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",  # frame-ancestors 'none' for browsers that predate CSP 2
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json",
}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


class ConsoleAssets:
    """Every servable file under a directory, by its path relative to it (`index.html`, `pages/keys.js`)."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.files: dict[str, _Asset] = {}
        for path in sorted(directory.rglob("*")):
            content_type = _CONTENT_TYPES.get(path.suffix)
            if path.is_file() and content_type is not None:
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                self.files[path.relative_to(directory).as_posix()] = _Asset(body, content_type, etag)

    def response(self, name: str, if_none_match: str | None) -> Response:
        asset = self.files.get(name)
        if asset is None:
            return Response(b"not found\n", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
        headers = {**SECURITY_HEADERS, "etag": asset.etag, "cache-control": "no-cache"}  # revalidate: a new release shows at once
        if if_none_match == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.content_type, headers=headers)


def console_router(assets: ConsoleAssets | None = None) -> APIRouter:
    """The `/ui` routes over `assets` (read from the package when not given)."""
    files = assets or ConsoleAssets()
    router = APIRouter(include_in_schema=False)

    @router.get("/ui")
    async def console_root() -> Response:
        return RedirectResponse("/ui/", status_code=308, headers=SECURITY_HEADERS)

    @router.get("/ui/{name:path}")
    async def console_file(name: str, request: Request) -> Response:
        return files.response(name or "index.html", request.headers.get("if-none-match"))

    return router
