"""Ingestion started from the app: a separate process, so that it survives page reloads and the chat keeps
answering from the current index meanwhile. Its progress is read back from the progress file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.lock import IngestionLock
from ingest.pipeline import PROGRESS_FILE
from ingest.progress import Progress, ProgressFile, read_progress
from sourcier.settings import Settings

LOG_FILE = "ingestion.log"
# Started from this process and maybe not holding the lock yet (Python and the models take seconds to load).
_children: dict[Path, subprocess.Popen] = {}


class IngestionAlreadyRunning(RuntimeError):
    pass


def is_running(settings: Settings) -> bool:
    if IngestionLock(settings.store.path).is_held():
        return True
    child = _children.get(settings.store.path.resolve())
    return child is not None and child.poll() is None


def start(settings: Settings, paths: Sequence[Path] = (), rebuild: bool = False) -> subprocess.Popen:
    """Launch `sourcier ingest` detached from the caller; the ingestion lock still guarantees one at a time."""
    if is_running(settings):
        raise IngestionAlreadyRunning("Une ingestion est déjà en cours.")
    store_dir = settings.store.path
    store_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sourcier.cli", "ingest", "--quiet", *map(str, paths)]
    if rebuild:
        command.append("--rebuild")
    ProgressFile(store_dir / PROGRESS_FILE)(Progress(phase="démarrage"))  # the last run's outcome is now stale
    with (store_dir / LOG_FILE).open("w") as log:
        child = _children[store_dir.resolve()] = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the page's script run
        )  # same environment and working directory: the child reads the same settings
    return child


def progress(settings: Settings) -> Progress | None:
    return read_progress(settings.store.path / PROGRESS_FILE)


def last_log(settings: Settings, lines: int = 20) -> str:
    try:
        return "\n".join((settings.store.path / LOG_FILE).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
