"""Who is calling: the client key from `Authorization: Bearer ...`, and the admin key for `/admin/*`.

With no client keys configured the gateway is open, but only when it listens on a loopback
address; on any other address every request is refused until keys are configured.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from gateway.auth.errors import AdminForbiddenError, AuthenticationError
from gateway.auth.keys import ClientKey, KeyRing

__all__ = ["Authenticator", "bearer_token", "is_loopback", "CONSOLE_TOKEN_LABEL"]

CONSOLE_TOKEN_LABEL = b"switchyard console csrf v1"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; False for 0.0.0.0, :: and every other address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Authenticator:
    """Checks client and admin keys; `replace_keys` swaps the key ring (policy reload, key refresh)."""

    def __init__(self, keys: KeyRing, *, admin_key: str | None, host: str) -> None:
        self.keys = keys
        self.host = host
        self._admin_digest = hashlib.sha256(admin_key.encode()).digest() if admin_key else None

    @property
    def open_access(self) -> bool:
        """No client keys and bound to loopback: requests without a key are served."""
        return len(self.keys) == 0 and is_loopback(self.host)

    def replace_keys(self, keys: KeyRing) -> None:
        self.keys = keys

    def startup_notice(self) -> str:
        """The line `gateway serve` prints about authentication."""
        if len(self.keys):
            return f"auth: {len(self.keys)} client key(s); requests need Authorization: Bearer <key>"
        if self.open_access:
            return (f"auth: no client keys configured; accepting unauthenticated requests because {self.host} is a "
                    "loopback address")
        return (f"auth: no client keys configured and {self.host} is not a loopback address: every request will be "
                "refused; add keys to the policy or create them with `gateway keys create`")

    def authenticate(self, authorization: str | None) -> ClientKey | None:
        """The calling key (None in open access); raises AuthenticationError."""
        if self.open_access:
            return None
        if len(self.keys) == 0:
            raise AuthenticationError("this gateway has no client keys configured and is not bound to loopback, "
                                      "so it refuses every request")
        token = bearer_token(authorization)
        if token is None:
            raise AuthenticationError("missing API key: send Authorization: Bearer <key>")
        key = self.keys.lookup(token)
        if key is None:
            raise AuthenticationError("invalid API key")
        return key

    @property
    def has_admin_key(self) -> bool:
        return self._admin_digest is not None

    def console_token(self) -> str | None:
        """The console's CSRF token: HMAC-SHA256 of a fixed label under the admin key's digest, so every
        replica and worker derives the same one and it reveals nothing of the key; None without an admin key."""
        if self._admin_digest is None:
            return None
        return hmac.new(self._admin_digest, CONSOLE_TOKEN_LABEL, hashlib.sha256).hexdigest()

    def check_console_token(self, token: str | None) -> bool:
        expected = self.console_token()
        return expected is not None and token is not None and hmac.compare_digest(token.encode(), expected.encode())

    def check_admin(self, authorization: str | None, *, key_required: bool = False) -> None:
        """Allow `/admin/*` with the admin key (or, without one, in open access only, unless `key_required`:
        calls that change something always need the key itself); else AdminForbiddenError."""
        if self._admin_digest is None:
            if self.open_access and not key_required:
                return
            raise AdminForbiddenError("admin endpoints are disabled: set SWITCHYARD_ADMIN_KEY" if not key_required else
                                      "this admin call needs an admin key and none is set: set SWITCHYARD_ADMIN_KEY")
        token = bearer_token(authorization)
        if token is None or not hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._admin_digest):
            raise AdminForbiddenError("admin endpoints need the admin key: Authorization: Bearer <SWITCHYARD_ADMIN_KEY>")
