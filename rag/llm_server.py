"""The embedded LLM: llama.cpp's own OpenAI-compatible HTTP server (xllamacpp), run as a separate process.

`python -m rag.llm_server --model X.gguf --port N` serves until it is terminated. `EmbeddedServer` starts it on
loopback, waits for it to be healthy, reuses one that already runs on the configured port, and stops it on exit.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO

import httpx

from rag import local_ports
from sourcier.errors import ConfigurationError

SERVED_NAME = "sourcier-embedded"


def healthy(base_url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class EmbeddedServer:
    def __init__(self, model: Path, port: int, context: int, threads: int) -> None:
        self.model, self.port, self.context, self.threads = model, port, context, threads
        self.base_url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen | None = None
        self._log: deque[str] = deque(maxlen=40)  # the server's last stderr lines, for the startup error
        self._lock = threading.Lock()

    def ensure_running(self, timeout: float = 180) -> str:
        """Base URL of a healthy server (OpenAI API under /v1), started if none answers on the port."""
        with self._lock:
            if healthy(self.base_url):
                self._check_it_is_ours()
                return self.base_url
            if not self.model.exists():
                raise ConfigurationError(
                    f"Modèle de langage absent : {self.model}. Lancez « sourcier models » (ou « make install »)."
                )
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    self.command(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
                # llama.cpp logs every request on stderr: unread, the pipe fills (64 KB) and the server blocks on
                # its next write — it stopped answering after ~30 FALC fiches. A thread keeps it drained.
                threading.Thread(target=self._drain, args=(self._process.stderr,), daemon=True).start()
                atexit.register(self.stop)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if healthy(self.base_url):
                    self._check_it_is_ours()
                    return self.base_url
                if self._process.poll() is not None:
                    time.sleep(0.2)  # the drain thread reads the last lines
                    error = "".join(self._log)[-500:]
                    raise ConfigurationError(f"Le serveur LLM intégré s'est arrêté au démarrage : {error}")
                time.sleep(0.3)
            self.stop()
            raise ConfigurationError(f"Le serveur LLM intégré n'a pas répondu en {timeout:.0f} s.")

    def _check_it_is_ours(self) -> None:
        """The server on the port must be one Sourcier started, for this model, under this user: prompts hold
        internal documents and questions, and answers are trusted."""
        process = local_ports.listener(self.port)
        started_here = process is not None and self._process is not None and process.pid == self._process.pid
        if not started_here and not local_ports.is_ours(process, "rag.llm_server", self.model.name):
            who = (
                f"« {process.name()} » (utilisateur {local_ports.owner(process)})"
                if process
                else "un programme inconnu"
            )
            raise ConfigurationError(
                f"Le port {self.port} du serveur LLM intégré est occupé par {who} : Sourcier ne lui envoie pas les "
                "questions. Libérez ce port ou choisissez-en un autre (réglage llm.embedded_port)."
            )

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "rag.llm_server", "--model", str(self.model), "--port", str(self.port),
            "--ctx", str(self.context), "--threads", str(self.threads),
        ]  # fmt: skip

    def _drain(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._log.append(line.decode(errors="replace"))

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


def serve(model: Path, port: int, context: int, threads: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {SERVED_NAME}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = context
    params.n_parallel = 1  # one user at a time on 2 cores; a second request queues
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.offline = True
    params.endpoint_metrics = False
    params.ui = False if hasattr(params, "ui") else None
    server = xllamacpp.Server(params)  # noqa: F841  (serves until the process ends)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Stopped with its parent even when the parent could not say so (killed): no orphan holding 2 GB and the port.
    parent = os.getppid()
    while not stop.wait(2.0) and os.getppid() == parent:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description="Serveur LLM intégré (llama.cpp) sur 127.0.0.1")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    serve(args.model, args.port, args.ctx, args.threads)


if __name__ == "__main__":
    main()
