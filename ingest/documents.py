"""The data that flows through the ingestion pipeline: source file → loaded document → chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


def document_id(relative_path: str) -> str:
    """Stable across content changes: a document is its place in the corpus."""
    return hashlib.sha1(relative_path.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relative_path: str  # POSIX, relative to the corpus root: what citations show
    service: str  # first folder under the corpus root; later the access group
    size: int

    @property
    def extension(self) -> str:
        return self.path.suffix.lower()

    @property
    def doc_id(self) -> str:
        return document_id(self.relative_path)


@dataclass
class Block:
    """A piece of text that belongs to one page and one section."""

    text: str
    page: int | None = None
    section: tuple[str, ...] = ()


@dataclass
class LoadedDocument:
    title: str
    format: str
    blocks: list[Block]
    pages: int | None = None
    doc_date: date | None = None
    file_date: date | None = None  # when the file was produced: the weakest evidence of the document's date
    pages_without_text: list[int] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)  # pages whose text comes from OCR
    notes: list[str] = field(default_factory=list)  # French, shown in the ingestion report

    @property
    def text_length(self) -> int:
        return sum(len(block.text) for block in self.blocks)


@dataclass
class Chunk:
    id: str
    text: str  # what is shown and cited
    embedding_text: str  # what is embedded: the text with its title and section for context
    metadata: dict[str, str | int | float | bool]

    @property
    def content_hash(self) -> str:
        return str(self.metadata["content_hash"])
