"""HTTP/1.1 framing shared by the load generator and the minimal upstream."""

from __future__ import annotations

__all__ = ["content_length"]

_CONTENT_LENGTH = b"\r\ncontent-length:"


def content_length(head_lower: bytes) -> int | None:
    """The Content-Length of a lower-cased message head (start line and headers), or None."""
    at = head_lower.find(_CONTENT_LENGTH)
    if at < 0:
        return None
    end = head_lower.find(b"\r\n", at + 2)
    return int(head_lower[at + len(_CONTENT_LENGTH) : end if end >= 0 else None])
