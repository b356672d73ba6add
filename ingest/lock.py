"""One ingestion at a time per index: an advisory file lock, released by the OS if the process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sourcier.errors import IngestionRunningError


class IngestionLock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = None

    def __enter__(self) -> IngestionLock:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise IngestionRunningError(
                "Une ingestion est déjà en cours sur cet index : attendez qu'elle se termine."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info) -> None:
        if self._handle:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def is_held(self) -> bool:
        """Whether another process is ingesting right now."""
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
