"""Progress of a run, pushed to callbacks (terminal bar, app) and mirrored in a file any process can poll."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path


class Phase(StrEnum):
    STARTING = "starting"  # a background run was asked for; the process is loading
    PREPARING = "preparing"
    SCANNING = "scanning"  # hashing the corpus, deciding what to redo
    INDEXING = "indexing"  # loading, splitting, embedding, storing
    FINALISING = "finalising"  # lexical index, collection switch
    DONE = "done"

    @property
    def label(self) -> str:
        return PHASE_LABELS[self]


PHASE_LABELS = {
    Phase.STARTING: "démarrage",
    Phase.PREPARING: "préparation",
    Phase.SCANNING: "analyse",
    Phase.INDEXING: "indexation",
    Phase.FINALISING: "finalisation",
    Phase.DONE: "terminé",
}


@dataclass
class Progress:
    phase: Phase = Phase.PREPARING
    files_total: int = 0
    files_done: int = 0
    chunks_done: int = 0
    current_file: str = ""
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    finished: bool = False
    error: str | None = None
    # The time left is estimated from the bytes of the files to (re)index, over the indexing phase only: unchanged
    # files and the scan would make it jump, and one large PDF weighs more than ten small notes.
    bytes_total: int = 0
    bytes_done: int = 0
    indexing_started_at: float | None = None

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left, counting down between updates (a file that takes a minute does not freeze the estimate);
        None until there is a rate to go by."""
        if self.phase is not Phase.INDEXING or self.indexing_started_at is None:
            return None
        if not self.bytes_done or self.bytes_done >= self.bytes_total:
            return None
        rate = self.bytes_done / max(self.updated_at - self.indexing_started_at, 1e-3)
        left_at_update = (self.bytes_total - self.bytes_done) / rate
        since_update = (time.time() if now is None else now) - self.updated_at
        return max(left_at_update - since_update, 1.0)


ProgressCallback = Callable[[Progress], None]


class ProgressFile:
    """Writes the progress as JSON at most every `interval` seconds, and whenever the file or phase changes."""

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self.path, self.interval, self._last, self._shown = path, interval, 0.0, ("", "")

    def __call__(self, progress: Progress) -> None:
        # A new phase, or a new file being read, is written at once: a file that takes minutes to read must be the
        # one named meanwhile (hashing files during the scan is quick, and stays throttled).
        shown = (str(progress.phase), progress.current_file if progress.phase is Phase.INDEXING else "")
        if progress.finished or shown != self._shown or time.monotonic() - self._last >= self.interval:
            self._last, self._shown = time.monotonic(), shown
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(progress), ensure_ascii=False))
            os.replace(temporary, self.path)


def read_progress(path: Path) -> Progress | None:
    try:
        progress = Progress(**json.loads(path.read_text()))
        progress.phase = Phase(progress.phase)
        return progress
    except (FileNotFoundError, ValueError, TypeError):
        return None  # absent, half-written, or written by an older version: no progress to show
