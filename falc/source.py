"""Read: a document as sections, each cut into passages small enough for a small model to rewrite whole.

A passage (a paragraph, a run of list items, or a few sentences of a long paragraph) is the unit that is rewritten,
checked and shown side by side with its draft: every draft sentence comes from the passage next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import LoadedDocument, SourceFile
from ingest.loaders import LoadOptions
from ingest.worker import LoadWorker
from sourcier.settings import Settings

PASSAGE_CHARS = 600  # ~150 words: what the 1.5B model rewrites without dropping facts (see README, FALC)

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ý0-9«(])")


@dataclass
class SourceSection:
    title: str
    passages: list[str]
    page: int | None = None


@dataclass
class SourceDocument:
    title: str
    name: str  # the file name, as the owner knows it
    sections: list[SourceSection]

    @property
    def passages(self) -> int:
        return sum(len(section.passages) for section in self.sections)


class DocumentReader:
    """Loads files with the ingestion's own loaders, in the child process that limits what a file may cost; the
    child is started once (importing the parsers takes tens of seconds on 2 cores) and reused for every file."""

    def __init__(self, settings: Settings) -> None:
        options = LoadOptions(**settings.ingest.model_dump(include=set(LoadOptions.__dataclass_fields__)))
        self._worker = LoadWorker(options)

    def read(self, path: Path, name: str | None = None) -> SourceDocument:
        """`DocumentError` with the reason when the file cannot be read."""
        name = name or path.name
        loaded = self._worker.load(SourceFile(path, name, "", path.stat().st_size))
        return from_loaded(loaded, name)

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> DocumentReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read(path: Path, settings: Settings, name: str | None = None) -> SourceDocument:
    """One file; see `DocumentReader` for several."""
    with DocumentReader(settings) as reader:
        return reader.read(path, name)


def from_loaded(document: LoadedDocument, name: str) -> SourceDocument:
    sections: list[SourceSection] = []
    current: tuple[str, ...] | None = None
    for block in document.blocks:
        if not block.text.strip():
            continue
        if block.section != current or not sections:
            current = block.section
            title = block.section[-1] if block.section else document.title
            sections.append(SourceSection(title, [], block.page))
        sections[-1].passages.extend(passages(block.text))
    return SourceDocument(document.title, name, [section for section in sections if section.passages])


def passages(text: str, limit: int = PASSAGE_CHARS) -> list[str]:
    """Paragraphs and runs of list items, joined while they fit in `limit`; a longer paragraph is cut between
    sentences."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        lines = paragraph.splitlines() if paragraph.lstrip().startswith(("-", "•", "*")) else [paragraph]
        for line in lines:
            pieces.extend(_SENTENCE_END.split(line) if len(line) > limit else [line])
    grouped: list[str] = []
    for piece in pieces:
        if grouped and len(grouped[-1]) + len(piece) + 1 <= limit:
            grouped[-1] += "\n" + piece
        else:
            grouped.append(piece)
    return grouped
