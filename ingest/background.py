"""Ingestion started from the app: a separate process, so that it survives page reloads and the chat keeps
answering from the current index meanwhile. Its progress is read back from the progress file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.lock import IngestionLock
from ingest.progress import Phase, Progress, ProgressFile, read_progress
from sourcier.access import Reader
from sourcier.errors import IngestionRunningError
from sourcier.layout import StoreLayout
from sourcier.settings import Settings

# Started from this process and maybe not holding the lock yet (Python and the models take seconds to load).
_children: dict[Path, subprocess.Popen] = {}


def is_running(settings: Settings) -> bool:
    if IngestionLock(settings.store).is_held():
        return True
    child = _children.get(settings.store.path.resolve())
    return child is not None and child.poll() is None


def start(
    settings: Settings, started_by: Reader, paths: Sequence[Path] = (), rebuild: bool = False
) -> subprocess.Popen:
    """Launch `sourcier ingest` detached from the caller; the ingestion lock still guarantees one at a time.

    The child receives the caller's settings and who started it (JSON on its stdin, so that no secret lands in a
    file or in `ps`): it ingests into exactly the index the caller reads, whatever its own environment says, with
    the rights of the administrator who asked — checked again by the child against the access policy.
    """
    if is_running(settings):
        raise IngestionRunningError("Une ingestion est déjà en cours : attendez qu'elle se termine.")
    layout = StoreLayout(settings.store.path).ensure()
    command = [sys.executable, "-m", "ui.cli", "--settings-stdin", "ingest", "--quiet", *map(str, paths)]
    if rebuild:
        command.append("--rebuild")
    ProgressFile(layout.progress)(Progress(phase=Phase.STARTING))  # the last run's outcome is now stale
    with layout.ingestion_log.open("w") as log:
        child = _children[layout.root.resolve()] = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            start_new_session=True,  # not killed with the page's script run
        )
    assert child.stdin is not None
    payload = {"settings": settings.model_dump(mode="json"), "started_by": started_by.to_dict()}
    child.stdin.write(json.dumps(payload).encode())
    child.stdin.close()
    return child


def progress(settings: Settings) -> Progress | None:
    return read_progress(StoreLayout(settings.store.path).progress)


def last_log(settings: Settings, lines: int = 20) -> str:
    try:
        text = StoreLayout(settings.store.path).ingestion_log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
