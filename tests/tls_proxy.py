"""A real nginx, on loopback, that terminates TLS with a certificate of a throwaway authority and lets through only
the requests bearing a token — as a site puts one in front of Chroma or an LLM server, which check no one."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port
from tests.nginx import nginx

SERVER = """
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
    root.mkdir(parents=True, exist_ok=True)
    ca_file = certificates(root)
    port, token = free_port(), secrets.token_urlsafe(24)
    server = SERVER.format(root=root, port=port, upstream=upstream, token=token)
    with nginx(root, server, f"https://127.0.0.1:{port}/", verify=str(ca_file)):
        yield TLSProxy("127.0.0.1", port, token, ca_file)
