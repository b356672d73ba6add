"""Planning a run, without files, database or store: what is skipped, redone, retried, removed."""

import json
from collections import Counter
from pathlib import Path

from ingest.documents import SourceFile
from ingest.manifest import DocumentRecord
from ingest.plan import chunk_version, plan_run
from ingest.report import DocumentStatus

CHUNKING = '{"size": 1000}'


def source(path: str) -> SourceFile:
    return SourceFile(path=Path("/corpus") / path, relative_path=path, service=path.split("/")[0], size=10)


def record(path: str, file_hash: str, status=DocumentStatus.INDEXED, chunks: int = 2, **extra) -> DocumentRecord:
    version = chunk_version(file_hash, CHUNKING) if status == DocumentStatus.INDEXED else None
    return DocumentRecord(
        path=path,
        doc_id=source(path).doc_id,
        file_hash=file_hash,
        indexed_hash=extra.pop("indexed_hash", version),
        status=status,
        chunks=chunks if version else 0,
        **extra,
    )


def held_for(*records: DocumentRecord) -> dict[str, Counter]:
    return {r.doc_id: Counter({r.indexed_hash: r.chunks}) for r in records if r.indexed_hash and r.chunks}


def plan(files, known, held, chunking=CHUNKING, scope=lambda path: True, ocr=False):
    return plan_run(
        files,
        {r.path: r for r in known},
        held,
        chunking_key=chunking,
        in_scope=scope,
        readable_extensions={".pdf", ".html", ".txt"},
        ocr_possible=ocr,
    )


def test_a_new_file_is_loaded_and_an_unchanged_one_skipped():
    kept = record("rh/a.html", "h1")
    result = plan([(source("rh/a.html"), "h1"), (source("rh/b.html"), "h2")], [kept], held_for(kept))
    assert [r.path for r in result.unchanged] == ["rh/a.html"]
    assert [(p.source.relative_path, p.previous) for p in result.todo] == [("rh/b.html", None)]
    assert result.todo[0].version == chunk_version("h2", CHUNKING)


def test_a_changed_file_is_redone_with_its_previous_record():
    old = record("rh/a.html", "h1")
    (pending,) = plan([(source("rh/a.html"), "h2")], [old], held_for(old)).todo
    assert pending.previous is old and pending.file_hash == "h2"


def test_new_chunking_settings_redo_indexed_files_only():
    indexed = record("rh/a.html", "h1")
    failed = record("rh/b.pdf", "h2", status=DocumentStatus.FAILED, reason="PDF endommagé")
    result = plan([(source("rh/a.html"), "h1"), (source("rh/b.pdf"), "h2")], [indexed, failed], held_for(indexed), "{}")
    assert [p.source.relative_path for p in result.todo] == ["rh/a.html"]
    assert [r.path for r in result.unchanged] == ["rh/b.pdf"]


def test_a_document_the_store_disagrees_with_is_redone():
    kept = record("rh/a.html", "h1")
    half_written = {kept.doc_id: Counter({kept.indexed_hash: 1, "other-version": 3})}  # a crash mid-update
    assert [p.source.relative_path for p in plan([(source("rh/a.html"), "h1")], [kept], half_written).todo] == [
        "rh/a.html"
    ]
    assert plan([(source("rh/a.html"), "h1")], [kept], {}).todo  # chunks lost: redone too


def test_what_may_now_be_readable_is_retried():
    unsupported = record("rh/a.txt", "h1", status=DocumentStatus.UNSUPPORTED)  # .txt is readable now
    scan = record("rh/scan.pdf", "h2", status=DocumentStatus.NO_TEXT, details=json.dumps({"ocr_tried": False}))
    tried = record("rh/blank.pdf", "h3", status=DocumentStatus.NO_TEXT, details=json.dumps({"ocr_tried": True}))
    empty_page = record("rh/vide.html", "h4", status=DocumentStatus.NO_TEXT)  # OCR cannot give it text
    files = [(source(r.path), r.file_hash) for r in (unsupported, scan, tried, empty_page)]
    without_ocr = plan(files, [unsupported, scan, tried, empty_page], {})
    assert [p.source.relative_path for p in without_ocr.todo] == ["rh/a.txt"]
    with_ocr = plan(files, [unsupported, scan, tried, empty_page], {}, ocr=True)
    assert [p.source.relative_path for p in with_ocr.todo] == ["rh/a.txt", "rh/scan.pdf"]  # blank: OCR already tried


def test_removed_files_within_the_run_scope_and_orphan_chunks():
    gone = record("rh/old.html", "h1")
    elsewhere = record("urbanisme/plu.html", "h2")
    orphan = {"0123456789abcdef": Counter({"v": 4})}
    result = plan([], [gone, elsewhere], {**held_for(gone, elsewhere), **orphan}, scope=lambda p: p.startswith("rh/"))
    assert [r.path for r in result.removed] == ["rh/old.html"]  # a run on rh/ cannot delete urbanisme/
    assert result.orphans == {"0123456789abcdef"}


def test_chunks_of_a_file_about_to_be_processed_are_not_orphans():
    new = source("rh/new.html")
    result = plan([(new, "h9")], [], {new.doc_id: Counter({"partial": 2})})  # crashed before its first record
    assert result.orphans == set() and [p.source.relative_path for p in result.todo] == ["rh/new.html"]
