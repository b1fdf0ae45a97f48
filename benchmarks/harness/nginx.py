"""nginx as a reference reverse proxy: find the binary, write a loopback-only config in a temp dir.

One worker, keep-alive to the upstream (`upstream { keepalive }` with HTTP/1.1 and an empty
Connection header, as nginx's docs for ngx_http_upstream_module describe), no access log and no
response buffering, so SSE chunks pass through as they arrive.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["INSTALL_HINT", "find_nginx", "nginx_argv", "write_nginx_config"]

INSTALL_HINT = "nginx is not installed; install it with `apt-get install -y nginx` (Debian/Ubuntu) to benchmark that path"
_SBIN_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

_CONFIG = """\
# Written by benchmarks/harness/nginx.py: a loopback-only reverse proxy for the overhead benchmark.
daemon off;
master_process on;
worker_processes {workers};
{user_line}
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream bench_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive 256;
        keepalive_requests 1000000;
    }}

    server {{
        listen 127.0.0.1:{listen_port};
        location / {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def find_nginx() -> Path | None:
    """The nginx binary on PATH or in the usual sbin folders, or None."""
    found = shutil.which("nginx")
    if found:
        return Path(found)
    return next((Path(p) for p in _SBIN_CANDIDATES if os.access(p, os.X_OK)), None)


def write_nginx_config(directory: Path, *, listen_port: int, upstream_port: int, workers: int = 1) -> Path:
    """Write nginx.conf (and its temp folders' parent) under `directory`; return the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would switch to `nobody` and could not use a 0700 temp dir.
    user_line = "user root;" if os.geteuid() == 0 else ""
    path = directory / "nginx.conf"
    path.write_text(_CONFIG.format(
        directory=directory, listen_port=listen_port, upstream_port=upstream_port, workers=workers, user_line=user_line,
    ))
    return path


def nginx_argv(binary: Path, config_path: Path) -> list[str]:
    """Command line that runs nginx in the foreground on `config_path`, logging under its folder."""
    directory = config_path.parent
    return [str(binary), "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(config_path)]
