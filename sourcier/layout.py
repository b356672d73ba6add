"""The files of the store folder, named once.

Everything Sourcier keeps beside the index lives in `store.path` (even when the vectors are in a `chroma run`
server): the manifest, the progress and report of the last ingestion, the lock, the lexical indexes, what users
said (feedback, unanswered questions) and what document owners decided (quality state, exported reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def corpus_file(corpus_dir: Path, relative_path: str) -> Path | None:
    """A document's file from its path in the corpus, if it is still there and inside it (a path from the index is
    never trusted to stay inside the folder)."""
    root = corpus_dir.resolve()
    path = (root / relative_path).resolve()
    return path if root in path.parents and path.is_file() else None


@dataclass(frozen=True)
class StoreLayout:
    root: Path

    @property
    def chroma(self) -> Path:
        """The embedded Chroma database (unused when a server holds the vectors)."""
        return self.root / "chroma"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.sqlite3"

    @property
    def lock(self) -> Path:
        return self.root / "ingestion.lock"

    @property
    def progress(self) -> Path:
        return self.root / "ingestion_progress.json"

    @property
    def last_ingestion(self) -> Path:
        return self.root / "last_ingestion.json"

    @property
    def ingestion_log(self) -> Path:
        return self.root / "ingestion.log"

    def lexical(self, collection: str) -> Path:
        return self.root / f"lexical-{collection}.json"

    @property
    def quality_report(self) -> Path:
        """The last report as JSON, read by the app."""
        return self.root / "quality_report.json"

    def quality_export(self, extension: str) -> Path:
        """Where `sourcier report` writes by default."""
        return self.root / f"qualite.{extension}"

    def ensure(self) -> StoreLayout:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
