"""Hot reload: watch the policy file and apply a valid change to new requests.

Each check compares the file's (mtime, size) with the last seen; only when they moved, or while
the file is younger than `RECENT_S` (coarse file-system clocks can give two quick writes of one
size the same mtime), is the file read and hashed, and only a new hash is loaded. Reading and validating run in a worker thread,
off the event loop; applying is `GatewayRuntime.apply_policy` (requests in flight keep the
backends they hold). An invalid file is rejected: the old policy keeps serving and the error
(`FILE:LINE:COL: message`) is logged once and kept for /admin/status until a valid file arrives.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.runtime import GatewayRuntime
from policies.errors import PolicyError
from policies.loader import parse_policy_text

__all__ = ["PolicyWatcher", "ReloadError"]

log = logging.getLogger("switchyard.reload")

RECENT_S = 2.0


@dataclass(frozen=True, slots=True)
class ReloadError:
    """A rejected reload: the file's problems, one `FILE:LINE:COL: message` per line, and when (unix s)."""

    message: str
    at: float


class PolicyWatcher:
    """Checks `runtime.policy_path` when called (a scheduler job calls it every ~0.5 s)."""

    def __init__(self, runtime: GatewayRuntime, path: Path) -> None:
        self.runtime = runtime
        self.path = path
        self.last_error: ReloadError | None = None
        self.reloads = 0  # valid changes applied since start
        self._seen: tuple[int, int] | None = None
        self._digest: str | None = None
        try:
            self._seen = self._stat()
            self._digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            pass

    @property
    def digest(self) -> str | None:
        """SHA-256 of the file content last applied or rejected."""
        return self._digest

    def _stat(self) -> tuple[int, int]:
        stat = os.stat(self.path)
        return stat.st_mtime_ns, stat.st_size

    def _reject(self, message: str) -> None:
        self.last_error = ReloadError(message, time.time())
        log.error("policy reload rejected, still serving the previous policy:\n%s", message)

    async def check(self) -> bool:
        """Apply the file if it changed and is valid; True when a new policy was applied."""
        try:
            seen = await asyncio.to_thread(self._stat)  # a stat can block (network file systems): off the loop
        except OSError as exc:
            if self._seen is not None:
                self._seen, self._digest = None, None
                self._reject(f"{self.path}: cannot read the policy file: {exc.strerror}")
            return False
        if seen == self._seen and time.time() - seen[0] / 1e9 > RECENT_S:
            return False
        self._seen = seen
        try:
            raw = await asyncio.to_thread(self.path.read_bytes)
        except OSError as exc:
            self._seen, self._digest = None, None
            self._reject(f"{self.path}: cannot read the policy file: {exc.strerror}")
            return False
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._digest:
            return False  # touched, not changed
        self._digest = digest
        try:
            policy = await asyncio.to_thread(parse_policy_text, raw.decode("utf-8", errors="replace"), str(self.path))
        except PolicyError as exc:
            self._reject(str(exc))
            return False
        self.runtime.apply_policy(policy)
        self.last_error = None
        self.reloads += 1
        log.info("policy reloaded from %s (%d backends, %d routes)", self.path, len(policy.backends), len(policy.routes))
        return True
