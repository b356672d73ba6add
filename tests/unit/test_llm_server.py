"""The embedded server's process management, with a stand-in process that logs as much as llama.cpp does."""

import sys
import textwrap

import httpx
import pytest

from rag.llm_server import EmbeddedServer
from sourcier.errors import ConfigurationError
from tests.conftest import free_port

# Serves /health and writes 64 KB to stderr per request, as llama.cpp's request logs add up over a long run.
NOISY_SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            sys.stderr.write("x" * 65536 + "\\n")
            sys.stderr.flush()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


class StandInServer(EmbeddedServer):
    def __init__(self, tmp_path, script: str) -> None:
        model = tmp_path / "model.gguf"
        model.write_bytes(b"GGUF")
        super().__init__(model, free_port(), context=2048, threads=1)
        self.script = tmp_path / "server.py"
        self.script.write_text(script)

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.port)]


def test_a_server_that_logs_a_lot_keeps_answering(tmp_path):
    server = StandInServer(tmp_path, NOISY_SERVER)
    try:
        url = server.ensure_running(timeout=30)
        # Unread, stderr would fill its pipe after a request or two and the server would block on its next write.
        for _ in range(20):
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    finally:
        server.stop()


def test_a_server_that_dies_at_startup_says_why(tmp_path):
    server = StandInServer(tmp_path, "import sys; sys.stderr.write('modèle illisible\\n'); sys.exit(1)")
    with pytest.raises(ConfigurationError, match="modèle illisible"):
        server.ensure_running(timeout=30)


def test_the_token_count_is_estimated_when_the_server_cannot_be_asked():
    from rag.extracts import estimated_tokens
    from rag.llm import server_tokenizer

    count = server_tokenizer(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    text = "Le justificatif de domicile doit dater de moins de 3 mois."
    assert count(text) == estimated_tokens(text) > 0
