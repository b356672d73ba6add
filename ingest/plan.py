"""Plan a run: from what the corpus holds, what the manifest recorded and what the store holds, decide what to redo.

A pure function (no file, database or store access), so that every rule of incremental ingestion — skip an unchanged
file, redo one whose chunking changed, heal a document the store disagrees with, retry what may now be readable,
remove what left the corpus, drop orphan chunks — is tested without Chroma.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ingest.documents import Chunk, LoadedDocument, SourceFile
from ingest.manifest import DocumentRecord
from ingest.report import DocumentStatus
from sourcier.hashing import sha256_bytes


@dataclass
class Pending:
    """A file to (re)load in this run."""

    source: SourceFile
    file_hash: str
    version: str  # file content + chunking settings: the identity of the chunks made from it
    previous: DocumentRecord | None
    document: LoadedDocument | None = None
    chunks: Sequence[Chunk] = ()


@dataclass
class Plan:
    unchanged: list[DocumentRecord] = field(default_factory=list)
    todo: list[Pending] = field(default_factory=list)
    removed: list[DocumentRecord] = field(default_factory=list)  # gone from the corpus (within this run's scope)
    orphans: set[str] = field(default_factory=set)  # doc_ids the store holds and nothing accounts for


def chunk_version(file_hash: str, chunking_key: str) -> str:
    return sha256_bytes(f"{file_hash}:{chunking_key}".encode())[:16]


def consistent(record: DocumentRecord, held: Mapping[str, Counter]) -> bool:
    """Does the store hold exactly what the manifest says for this document?"""
    expected = {record.indexed_hash: record.chunks} if record.indexed_hash and record.chunks else {}
    return dict(held.get(record.doc_id, {})) == expected


def ocr_tried(record: DocumentRecord) -> bool:
    return bool(record.details and json.loads(record.details).get("ocr_tried"))


def plan_run(
    files: Sequence[tuple[SourceFile, str]],
    known: Mapping[str, DocumentRecord],
    held: Mapping[str, Counter],
    *,
    chunking_key: str,
    in_scope: Callable[[str], bool],
    readable_extensions: Collection[str],
    ocr_possible: bool,
) -> Plan:
    """`files` are the corpus files of this run with their sha256; `known` the manifest's records by path; `held`
    what the store holds (doc_id → version → chunks); `in_scope` says whether a known path lies under this run's
    paths (only those may be declared removed)."""
    plan = Plan()
    for source, file_hash in files:
        version = chunk_version(file_hash, chunking_key)
        previous = known.get(source.relative_path)
        if previous and _can_skip(previous, source, file_hash, version, held, readable_extensions, ocr_possible):
            plan.unchanged.append(previous)
        else:
            plan.todo.append(Pending(source, file_hash, version, previous))
    present = {source.relative_path for source, _ in files}
    plan.removed = [record for path, record in known.items() if path not in present and in_scope(path)]
    # Chunks no manifest row accounts for (a crash before the first record of a new file, or a file deleted before
    # that record) are removed unless the file is about to be processed.
    accounted = {record.doc_id for record in known.values()} | {source.doc_id for source, _ in files}
    plan.orphans = set(held) - accounted
    return plan


def _can_skip(
    previous: DocumentRecord,
    source: SourceFile,
    file_hash: str,
    version: str,
    held: Mapping[str, Counter],
    readable_extensions: Collection[str],
    ocr_possible: bool,
) -> bool:
    if previous.file_hash != file_hash:
        return False
    # An indexed file whose chunking settings changed is redone (its unchanged passages keep their vectors).
    if previous.status == DocumentStatus.INDEXED and previous.indexed_hash != version:
        return False
    if not consistent(previous, held):
        return False
    # What could not be read may be readable now: a format Sourcier learnt, a scan once Tesseract is installed.
    if previous.status == DocumentStatus.UNSUPPORTED and source.extension in readable_extensions:
        return False
    # Only a PDF can gain text from OCR: an empty text or web page stays empty.
    return not (
        previous.status == DocumentStatus.NO_TEXT
        and source.extension == ".pdf"
        and ocr_possible
        and not ocr_tried(previous)
    )
