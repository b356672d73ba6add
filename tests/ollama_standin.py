"""A protocol stand-in for Ollama (which cannot run on these machines): `/api/tags` and `/api/chat`, streaming
(NDJSON) and not, as documented in Ollama's API reference. It echoes a fixed French answer citing [1]."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = "Il faut un justificatif de domicile de moins de 3 mois [1]."


class _Handler(BaseHTTPRequestHandler):
    models: list[str] = []
    requests: list[dict] = []
    word_delay: float = 0.0  # seconds between streamed words: a model that takes its time

    def log_message(self, *args) -> None:
        pass

    def _json(self, payload: dict, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            self._json({"models": [{"name": name, "model": name} for name in self.models]})
        else:
            self._json({"error": "not found"}, 404)

    def do_POST(self) -> None:
        # The caller may go away mid-answer (a killed replica, a closed stream), as Ollama sees it too.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.requests.append(request)
        if self.path != "/api/chat":
            return self._json({"error": "not found"}, 404)
        if request.get("model") not in self.models:
            return self._json({"error": f"model '{request.get('model')}' not found"}, 404)
        words = ANSWER.split(" ")
        if request.get("stream", True):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for index, word in enumerate(words):
                piece = word if index == 0 else " " + word
                line = {
                    "model": request["model"],
                    "created_at": "2026-11-28T00:00:00Z",
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                self.wfile.write((json.dumps(line) + "\n").encode())
                self.wfile.flush()
                time.sleep(self.word_delay)
            final = {
                "model": request["model"],
                "created_at": "2026-11-28T00:00:00Z",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "total_duration": 1,
                "prompt_eval_count": 10,
                "eval_count": len(words),
            }
            self.wfile.write((json.dumps(final) + "\n").encode())
        else:
            self._json(
                {
                    "model": request["model"],
                    "created_at": "2026-11-28T00:00:00Z",
                    "message": {"role": "assistant", "content": ANSWER},
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": 10,
                    "eval_count": len(words),
                }
            )


class OllamaStandIn:
    def __init__(self, models: list[str], word_delay: float = 0.0) -> None:
        handler = type("Handler", (_Handler,), {"models": models, "requests": [], "word_delay": word_delay})
        self.handler = handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def requests(self) -> list[dict]:
        return self.handler.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
