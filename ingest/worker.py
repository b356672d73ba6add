"""Files are read in a child process that can be stopped: no parser, however hostile the file, hangs or sinks a run.

The child (forked from a forkserver that has the parsers imported, so it starts in milliseconds) runs under an
address-space limit (`ingest.parse_memory_mb`); each file must be read within `ingest.parse_timeout_s`. A file that
hits either is reported with the limit it hit; the child is replaced and the run goes on with the next file.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import resource
import signal
import time
from multiprocessing.connection import Connection

from ingest.documents import LoadedDocument, SourceFile
from ingest.loaders import LoadOptions, load, why_unreadable
from sourcier.errors import DocumentError, LimitExceededError, ServiceUnavailableError

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
# A child starts in milliseconds once the forkserver is warm, but the first one waits for the parsers to be imported
# (seconds on a loaded 2-core server): that wait is not the file's, so it has its own, generous, budget.
_STARTUP_TIMEOUT_S = 180
_READY = "ready"

# Imported once by the forkserver: every child starts with the parsers imported and warmed up.
_PRELOAD = ["ingest.worker_preload"]


def _die_with_parent() -> None:
    """Linux: the child is killed when the forkserver goes (it goes when the ingestion process is killed), so that
    a `kill -9` of an ingestion never leaves a parser running on its own."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _serve(connection: Connection, memory_mb: int) -> None:
    _die_with_parent()
    # Parsers' chatter (pypdf prints whole font dictionaries as warnings) is not for the user's terminal: what a
    # document lacks is said in the ingestion report. Errors still show.
    for library in ("pypdf", "unstructured", "fontTools"):
        logging.getLogger(library).setLevel(logging.ERROR)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    connection.send(_READY)
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        source, options = request
        try:
            try:
                reply = ("ok", load(source, options))
            except DocumentError as exc:
                reply = ("error", exc)
            except Exception as exc:  # `load` turns parsers' errors into reasons; anything else must not kill us
                reply = ("error", DocumentError(why_unreadable(exc)))
            connection.send(reply)
        except OSError:  # the run stopped waiting (limit hit, or ingestion killed): nothing to answer
            return


def _ready(connection: Connection) -> bool:
    try:
        return connection.poll(_STARTUP_TIMEOUT_S) and connection.recv() == _READY
    except (EOFError, OSError):  # died while starting
        return False


class LoadWorker:
    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def load(self, source: SourceFile) -> LoadedDocument:
        """`load(source)` in the child; `DocumentError` (a `LimitExceededError` for a limit) when it cannot."""
        connection = self._start()
        connection.send((source, self.options))
        allowed = self.options.parse_timeout_s
        if source.extension == ".pdf" and self.options.ocr:
            allowed += self.options.max_ocr_seconds  # OCR has its own budget, spent inside the parse
        deadline = time.monotonic() + allowed
        while not connection.poll(0.1):
            if not self._process.is_alive():
                cause = self._death_cause()
                self._stop()
                raise LimitExceededError(cause)
            if time.monotonic() > deadline:
                self._stop()
                raise LimitExceededError(
                    f"Lecture abandonnée au bout de {allowed:g} s (réglage ingest.parse_timeout_s) : "
                    "fichier trop complexe ou piégé."
                )
        try:
            kind, payload = connection.recv()
        except (EOFError, OSError):  # died while answering
            self._process.join(timeout=5)
            cause = self._death_cause()
            self._stop()
            raise LimitExceededError(cause) from None
        if kind == "error":
            raise payload
        return payload

    def _death_cause(self) -> str:
        """Why the reading child died on this file, from how it ended (the report's line for the file)."""
        code = self._process.exitcode if self._process is not None else None
        memory = (
            f"le fichier demande plus de {self.options.parse_memory_mb} Mo de mémoire, la limite fixée "
            "(archive piégée ? réglage ingest.parse_memory_mb)"
        )
        causes = {
            -signal.SIGKILL: memory + " ou le système a arrêté le lecteur",
            -signal.SIGABRT: memory,
            -signal.SIGSEGV: "le lecteur de ce format a planté sur son contenu (fichier endommagé ou piégé)",
            -signal.SIGBUS: "le fichier a changé ou été tronqué pendant sa lecture",
        }
        if code in causes:
            cause = causes[code]
        elif code is not None and code < 0:
            cause = f"le lecteur a été arrêté (signal {signal.Signals(-code).name})"
        else:
            cause = f"le lecteur s'est arrêté sur ce fichier (code de sortie {code})"
        return f"Lecture interrompue : {cause}."

    def _start(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            parent, child = context.Pipe()
            self._process = context.Process(
                target=_serve, args=(child, self.options.parse_memory_mb), daemon=True, name="sourcier-lecture"
            )
            self._process.start()
            child.close()
            self._connection = parent
            if not _ready(parent):
                self._stop()
                raise ServiceUnavailableError(
                    f"Le lecteur de documents n'a pas démarré en {_STARTUP_TIMEOUT_S} s : serveur surchargé ?"
                )
        assert self._connection is not None
        return self._connection

    def _stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(timeout=5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> LoadWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
