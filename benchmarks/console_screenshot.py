"""Make docs/images/console.png: the web console's Backends page on the demo, just after `local-v32`
was stopped, so the live routing table shows traffic falling back to `novita-v32`.

    python benchmarks/console_screenshot.py [--out docs/images/console.png]

It starts `gateway serve --demo` on a free port (ledger and key file in a temporary directory),
sends a few requests, logs in with the admin key the demo prints, stops `local-v32` from the page,
sends a few more and saves the screenshot. Needs the dev extra (`playwright`) and Debian's
`chromium` (`apt-get install chromium`); Playwright's own browser download is never used.
The browser helpers here are shared with the console's browser tests (tests/ui).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images" / "console.png"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
)
VIEWPORT = {"width": 1440, "height": 900}
ADMIN_KEY_LINE = re.compile(r"log in with the admin key (\S+), made for this demo run")

__all__ = ["CHROMIUM_FLAGS", "VIEWPORT", "ADMIN_KEY_LINE", "chromium_path", "launch_chromium", "main"]


def chromium_path() -> str | None:
    """Debian's Chromium (or $SWITCHYARD_CHROMIUM), None when absent."""
    explicit = os.environ.get("SWITCHYARD_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def launch_chromium(playwright: Any, executable: str) -> Any:
    """Headless Chromium from `executable` through Playwright (never a browser Playwright downloads)."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo gateway exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {timeout_s:.0f} s")


def _chat(base: str, text: str, stream: bool = False) -> None:
    import httpx

    body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 8, "stream": stream}
    httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        sys.stderr.write("console_screenshot: no Chromium found: apt-get install chromium (or set SWITCHYARD_CHROMIUM)\n")
        return 2
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "SWITCHYARD_LEDGER_PATH": f"{scratch}/ledger.sqlite3", "SWITCHYARD_KEYS_FILE": f"{scratch}/keys.json",
               "SWITCHYARD_HEALTH_INTERVAL_S": "0.5", "PYTHONUNBUFFERED": "1"}
        log_path = Path(scratch) / "gateway.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--demo", "--port", str(port),
                                        "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(f"{base}/readyz", process)
            admin_key = ADMIN_KEY_LINE.search(log_path.read_text()).group(1)
            for i in range(8):
                _chat(base, f"Hello number {i}", stream=i % 2 == 0)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright, executable)
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"{base}/ui/")
                page.fill("#admin-key", admin_key)
                page.click("#login-form button[type=submit]")
                local = page.locator('#backends-table tr[data-backend="local-v32"]')
                expect(local.locator('[data-field="health"]')).to_have_text("healthy", timeout=15_000)
                local.locator('[data-action="toggle"]').click()
                expect(local.locator('[data-action="toggle"]')).to_have_text("Start", timeout=15_000)
                for i in range(4):
                    _chat(base, f"Still there? {i}")
                expect(local.locator('[data-field="health"]')).to_have_text("unhealthy", timeout=15_000)
                expect(page.locator('#recent-table tr[data-backend="novita-v32"]').first).to_be_visible(timeout=15_000)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
