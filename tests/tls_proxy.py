"""A real nginx, on loopback, that terminates TLS with a certificate of a throwaway authority and lets through only
the requests bearing a token — as a site puts one in front of Chroma or an LLM server, which check no one."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

NGINX = """
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
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {root}/server.pem;
        ssl_certificate_key {root}/server.key;
        location / {{
            if ($http_authorization != "Bearer {token}") {{ return 401; }}
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class TLSProxy:
    host: str
    port: int
    token: str
    ca_file: Path


def certificates(root: Path) -> Path:
    """A certificate authority and a server certificate for localhost/127.0.0.1 signed by it; returns the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autorite de test Sourcier")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (root / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (root / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (root / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return root / "ca.pem"


@contextlib.contextmanager
def tls_proxy(root: Path, upstream: int) -> Iterator[TLSProxy]:
    binary = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if not binary:
        pytest.fail("nginx absent : `make system-packages` l'installe (paquet nginx-light).")
    root.mkdir(parents=True, exist_ok=True)
    ca_file = certificates(root)
    port, token = free_port(), secrets.token_urlsafe(24)
    user = "user root;" if os.geteuid() == 0 else ""  # as root (CI), workers would become « nobody »
    config = NGINX.format(user=user, root=root, port=port, upstream=upstream, token=token)
    (root / "nginx.conf").write_text(config, encoding="utf-8")
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"https://127.0.0.1:{port}/", verify=str(ca_file), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield TLSProxy("127.0.0.1", port, token, ca_file)
    finally:
        process.terminate()
        process.wait(timeout=10)
