"""A real nginx on loopback for the tests that need a reverse proxy: the preamble every configuration shares, the
start and the wait until it answers. Each test brings its own `server` block."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CONFIG = """
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body; proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
    client_max_body_size 100m;
{http}
}}
"""


@contextlib.contextmanager
def nginx(root: Path, http: str, ready_url: str, verify: str | bool = True) -> Iterator[None]:
    """nginx serving `http` (the inside of its `http` block) until the context ends; waits until `ready_url`
    answers."""
    binary = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if not binary:
        pytest.fail("nginx absent : `make system-packages` l'installe (paquet nginx-light).")
    root.mkdir(parents=True, exist_ok=True)
    # Run as root (CI), nginx's workers would become « nobody », who cannot read pytest's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(CONFIG.format(user=user, root=root, http=http), encoding="utf-8")
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(ready_url, verify=verify, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
