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

    @property
    def elapsed_s(self) -> float:
        return self.updated_at - self.started_at

    @property
    def eta_s(self) -> float | None:
        if not self.files_done or self.files_done >= self.files_total:
            return None
        return self.elapsed_s / self.files_done * (self.files_total - self.files_done)


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
