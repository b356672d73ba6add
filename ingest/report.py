"""The ingestion report: per file, what happened and why — printed, written as JSON beside the index."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from sourcier.french import plural


class DocumentStatus(StrEnum):
    """A file's outcome in one run, and the state the manifest records for it."""

    INDEXED = "indexed"  # new or changed, now in the index
    UNCHANGED = "unchanged"  # same content hash as last time: skipped without parsing or embedding
    NO_TEXT = "no_text"  # readable but without text (scanned PDF): nothing searchable
    FAILED = "failed"  # could not be read: corrupt, encrypted, wrong extension...
    UNSUPPORTED = "unsupported"  # format Sourcier does not read (here)
    REMOVED = "removed"  # gone from the corpus: its chunks were deleted
    SKIPPED = "skipped"  # hidden or temporary files (lock files, Thumbs.db): listed, nothing to do

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_problem(self) -> bool:
        return self in PROBLEMS

    def count(self, n: int) -> str:
        """« 1 indexé », « 3 indexés », « 2 en échec »."""
        return f"{n} {STATUS_PLURALS.get(self, self.label) if abs(n) >= 2 else self.label}"


# Plural forms, for counts (« 3 indexés ») ; the singular is the label.
STATUS_PLURALS = {
    DocumentStatus.INDEXED: "indexés",
    DocumentStatus.UNCHANGED: "inchangés",
    DocumentStatus.REMOVED: "supprimés",
    DocumentStatus.SKIPPED: "ignorés",
}
STATUS_LABELS = {
    DocumentStatus.INDEXED: "indexé",
    DocumentStatus.UNCHANGED: "inchangé",
    DocumentStatus.NO_TEXT: "sans texte",
    DocumentStatus.FAILED: "en échec",
    DocumentStatus.UNSUPPORTED: "non pris en charge",
    DocumentStatus.REMOVED: "supprimé",
    DocumentStatus.SKIPPED: "ignoré",
}
PROBLEMS = frozenset({DocumentStatus.FAILED, DocumentStatus.UNSUPPORTED, DocumentStatus.NO_TEXT})


@dataclass
class FileReport:
    path: str
    status: DocumentStatus
    chunks: int = 0
    pages: int | None = None
    format: str | None = None
    reason: str | None = None


@dataclass
class IngestionReport:
    run_id: str
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    corpus: str = ""
    store: str = ""
    collection: str = ""
    embedding_model: str = ""
    rebuild: bool = False
    files: list[FileReport] = field(default_factory=list)
    total_chunks: int = 0
    embedded_chunks: int = 0  # chunks whose vector was computed this run (others were reused)

    @property
    def counts(self) -> Counter:
        return Counter(file.status for file in self.files)

    @property
    def index_changed(self) -> bool:
        """Whether this run changed what the index holds (a document indexed, removed, emptied, or rebuilt): an
        unchanged corpus leaves the quality report as it was."""
        changing = {DocumentStatus.INDEXED, DocumentStatus.REMOVED, DocumentStatus.NO_TEXT}
        return self.rebuild or self.embedded_chunks > 0 or any(file.status in changing for file in self.files)

    @property
    def problems(self) -> list[FileReport]:
        return [file for file in self.files if DocumentStatus(file.status).is_problem]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = dict(self.counts)
        return data

    def write(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, path)

    def summary(self) -> str:
        counts = self.counts
        parts = [
            plural(counts[status], status.label, STATUS_PLURALS.get(status, status.label))
            for status in DocumentStatus
            if counts[status]
        ]
        return (
            f"{plural(len(self.files), 'fichier')} ({', '.join(parts) or 'aucun'}) — "
            f"{plural(self.total_chunks, 'extrait')} dans l'index, "
            f"{plural(self.embedded_chunks, 'vectorisé')} en {self.duration_s:.1f} s."
        )
