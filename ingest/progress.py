"""Progress of a run, pushed to callbacks (terminal bar, app) and mirrored in a file any process can poll."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Progress:
    phase: str = "préparation"  # préparation → analyse → indexation → finalisation → terminé
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
    """Writes the progress as JSON at most every `interval` seconds (and always at the end)."""

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self.path, self.interval, self._last = path, interval, 0.0

    def __call__(self, progress: Progress) -> None:
        if progress.finished or time.monotonic() - self._last >= self.interval:
            self._last = time.monotonic()
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(progress), ensure_ascii=False))
            os.replace(temporary, self.path)


def read_progress(path: Path) -> Progress | None:
    try:
        return Progress(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
