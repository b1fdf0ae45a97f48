"""Cross-site request forgery checks for admin calls that change something (keys, demo controls, forms).

Three layers, each enough on its own against a forged request from another site:
1. the admin key travels in the `Authorization` header, which a browser never attaches by itself
   (no cookie) and which another origin cannot set without a CORS preflight the gateway never grants;
2. a browser's request must be same-origin: `Sec-Fetch-Site: same-origin` when the browser sends
   that header, and an `Origin` whose host:port is the request's own `Host`;
3. a browser's request must carry the console's CSRF token in `X-Switchyard-CSRF` (from
   `GET /admin/console/session`, derived from the admin key: `Authenticator.console_token`).

A request with neither `Origin` nor any `Sec-Fetch-*` header is not from a browser (curl, an SDK)
and needs only the admin key. Browsers send `Origin` on every cross-origin request and on
same-origin ones other than GET/HEAD (Fetch standard, "append a request `Origin` header"), and
`Sec-Fetch-Site` on every request (W3C Fetch Metadata), so a forged one cannot look like curl.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["CSRF_HEADER", "cross_site_refusal", "from_browser"]

CSRF_HEADER = "x-switchyard-csrf"


def from_browser(headers: Mapping[str, str]) -> bool:
    """The request carries the headers only browsers send."""
    return "origin" in headers or any(name.startswith("sec-fetch-") for name in headers)


def cross_site_refusal(headers: Mapping[str, str], token_ok: bool) -> str | None:
    """Why a browser's state-changing request is refused, or None when it may go on.

    `headers` are the request's (lower-case names); `token_ok` says whether its CSRF header holds
    the console token.
    """
    if not from_browser(headers):
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None:
        host = (headers.get("host") or "").lower()
        parts = urlsplit(origin)
        if origin == "null" or parts.scheme not in ("http", "https") or parts.netloc.lower() != host:
            return "cross-site request refused (Origin is not this gateway)"
    if not token_ok:
        return f"missing or wrong {CSRF_HEADER} header: the console sends the token of GET /admin/console/session"
    return None
