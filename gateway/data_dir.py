"""Where the gateway keeps its own files (usage ledger, created keys) when no path is given: never the checkout.

$XDG_DATA_HOME/switchyard, else ~/.local/share/switchyard (the XDG Base Directory default,
specifications.freedesktop.org/basedir-spec). Each file has its own override (`--ledger`,
$SWITCHYARD_LEDGER_PATH, $SWITCHYARD_KEYS_FILE, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The directory for Switchyard's data files (not created here)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "switchyard"
