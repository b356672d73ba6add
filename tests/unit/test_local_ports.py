"""Whatever answers on the LLM's loopback port is not trusted for answering there."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from rag import local_ports
from rag.llm_server import EmbeddedServer
from sourcier.errors import ConfigurationError
from tests.conftest import free_port


@pytest.fixture
def impostor():
    """Another program that answers /health on the embedded server's port, as a squatter would."""
    port = free_port()
    code = (
        "import http.server as h\n"
        "class H(h.BaseHTTPRequestHandler):\n"
        "    def do_GET(self): self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n"
        f"h.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield port, process
    process.kill()


def test_the_embedded_server_is_not_reused_when_another_program_holds_its_port(impostor, tmp_path):
    port, process = impostor
    assert local_ports.listener(port).pid == process.pid
    assert not local_ports.is_ours(local_ports.listener(port), "rag.llm_server")
    server = EmbeddedServer(tmp_path / "model.gguf", port, 4096, 2)
    with pytest.raises(ConfigurationError, match=f"Le port {port} du serveur LLM intégré est occupé par"):
        server.ensure_running()


def test_only_ollamas_own_binary_counts_as_ollama(impostor):
    port, _ = impostor
    assert not local_ports.is_ollama(local_ports.listener(port)) and not local_ports.is_ollama(None)
    assert local_ports.listener(free_port()) is None
