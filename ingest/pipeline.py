"""The ingestion pipeline: discover → load → split → embed → store, incremental and crash-safe.

Order of writes, per document: new chunks are upserted, then the old version's chunks are deleted, then the
manifest row is written. A crash between two steps leaves either both versions or the old one in the index —
never none — and the next run sees the manifest disagree with the store and redoes that document (reusing the
vectors already stored, so the redo costs little).

`--rebuild` fills a new collection while the live one keeps answering, then switches the manifest's pointer in one
transaction and drops the old collection.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest import ocr
from ingest import report as outcome
from ingest.discover import discover, in_scope
from ingest.documents import Chunk, LoadedDocument, SourceFile
from ingest.embed import Embedder
from ingest.lexical import LexicalIndex
from ingest.loaders import load
from ingest.lock import IngestionLock
from ingest.manifest import DocumentRecord, Manifest, now
from ingest.progress import Progress, ProgressCallback, ProgressFile
from ingest.report import FileReport, IngestionReport
from ingest.split import Splitter
from ingest.store import ChunkStore
from sourcier.errors import DocumentError, UnsupportedFormatError
from sourcier.hashing import sha256_bytes, sha256_file
from sourcier.settings import Settings

REPORT_FILE = "last_ingestion.json"
PROGRESS_FILE = "ingestion_progress.json"
MANIFEST_FILE = "manifest.sqlite3"
# Chunks of several small documents are embedded together: batching is what makes the CPU efficient.
EMBEDDING_WINDOW = 64


@dataclass
class _Pending:
    source: SourceFile
    file_hash: str
    version: str  # file content + chunking settings: the identity of the chunks made from it
    previous: DocumentRecord | None
    document: LoadedDocument | None = None
    chunks: Sequence[Chunk] = ()


@dataclass
class _Run:
    """What every stage of one run writes to."""

    manifest: Manifest
    store: ChunkStore
    collection: str
    report: IngestionReport
    progress: Progress


def _ocr_tried(record: DocumentRecord) -> bool:
    return bool(record.details and json.loads(record.details).get("ocr_tried"))


class IngestionPipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        callbacks: Iterable[ProgressCallback] = (),
    ) -> None:
        self.settings = settings
        self.store_dir = settings.store.path
        self.embedder = embedder or Embedder(settings.embedding)
        self.splitter = Splitter(settings.chunking)
        self.callbacks = [ProgressFile(self.store_dir / PROGRESS_FILE), *callbacks]
        self._held: dict = {}
        self._chunking = settings.chunking.model_dump_json()
        # A scan recorded without text is read again once Tesseract is there.
        self._ocr_now_possible = settings.ingest.ocr and ocr.available()

    def run(self, paths: Sequence[Path] = (), rebuild: bool = False) -> IngestionReport:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with IngestionLock(self.store_dir), Manifest(self.store_dir / MANIFEST_FILE) as manifest:
            return self._run(manifest, list(paths), rebuild)

    # ------------------------------------------------------------------------------------------------

    def _run(self, manifest: Manifest, paths: list[Path], rebuild: bool) -> IngestionReport:
        settings = self.settings
        progress = Progress()
        self._notify(progress)
        live = manifest.active_collection(settings.store.collection)
        target = f"{settings.store.collection}-{time.strftime('%Y%m%d-%H%M%S')}" if rebuild else live
        report = IngestionReport(
            run_id=uuid.uuid4().hex[:12],
            started_at=now(),
            corpus=str(settings.corpus_dir.resolve()),
            store=settings.store.location,
            collection=target,
            embedding_model=self.embedder.name,
            rebuild=rebuild,
        )
        started = time.perf_counter()
        try:
            store = ChunkStore.open(settings.store, self.embedder.name, target)
            if rebuild:
                self._drop_abandoned_rebuilds(manifest, store, keep={live, target})
            manifest.start_run(report.run_id, target, report.started_at)
            files = discover(settings.corpus_dir, paths)
            known = manifest.documents(target)
            held = self._held = store.versions()

            progress.phase, progress.files_total = "analyse", len(files)
            self._notify(progress)
            todo = self._plan(files, known, held, report, progress)
            run = _Run(manifest, store, target, report, progress)
            self._remove_missing(run, files, paths, known, held)

            progress.phase = "indexation"
            self._process(run, todo)

            progress.phase = "finalisation"
            self._notify(progress)
            # Always in step with the store (cheap when nothing changed), so a crash before this line heals.
            LexicalIndex.sync(LexicalIndex.path_for(self.store_dir, target), store.collection)
            if rebuild:
                manifest.switch_collection(target, live)
                self._drop_collection(store, live)
                LexicalIndex.path_for(self.store_dir, live).unlink(missing_ok=True)
            report.total_chunks = store.count()
        except BaseException as exc:
            progress.error = str(exc) or type(exc).__name__
            progress.finished = True
            with contextlib.suppress(Exception):  # a failing callback must not mask the original error
                self._notify(progress)
            raise
        report.duration_s = round(time.perf_counter() - started, 3)
        report.finished_at = now()
        report.write(self.store_dir / REPORT_FILE)
        manifest.finish_run(report.run_id, report.to_dict())
        progress.phase, progress.finished = "terminé", True
        self._notify(progress)
        return report

    def _plan(
        self,
        files: list[SourceFile],
        known: dict[str, DocumentRecord],
        held: dict,
        report: IngestionReport,
        progress: Progress,
    ) -> list[_Pending]:
        todo = []
        for source in files:
            progress.current_file = source.relative_path
            file_hash = sha256_file(source.path)
            version = sha256_bytes(f"{file_hash}:{self._chunking}".encode())[:16]
            previous = known.get(source.relative_path)
            # Same file, and for an indexed one the same chunking settings (else its chunks are redone; their
            # unchanged passages keep their vectors).
            same = previous and previous.file_hash == file_hash
            if same and previous.status == outcome.INDEXED and previous.indexed_hash != version:
                same = False
            if same and self._consistent(previous, held):
                retry = (
                    previous.status == outcome.UNSUPPORTED and source.extension in self.settings.ingest.extensions
                ) or (previous.status == outcome.NO_TEXT and self._ocr_now_possible and not _ocr_tried(previous))
                if not retry:
                    report.files.append(
                        FileReport(
                            source.relative_path,
                            outcome.UNCHANGED,
                            previous.chunks,
                            previous.pages,
                            previous.format,
                            previous.reason,
                        )
                    )
                    progress.files_done += 1
                    self._notify(progress)
                    continue
            todo.append(_Pending(source, file_hash, version, previous))
        return todo

    @staticmethod
    def _consistent(record: DocumentRecord, held: dict) -> bool:
        """Does the store hold exactly what the manifest says for this document?"""
        expected = {record.indexed_hash: record.chunks} if record.indexed_hash and record.chunks else {}
        return dict(held.get(record.doc_id, {})) == expected

    def _remove_missing(
        self, run: _Run, files: list[SourceFile], paths: list[Path], known: dict[str, DocumentRecord], held: dict
    ) -> None:
        present = {source.relative_path for source in files}
        for path, record in known.items():
            if path not in present and in_scope(path, self.settings.corpus_dir, paths):
                run.store.delete_document(record.doc_id)
                run.manifest.remove(run.collection, path)
                run.report.files.append(FileReport(path, outcome.REMOVED, reason="Fichier retiré du corpus."))
        # Chunks no manifest row accounts for (a crash before the first record of a new file, or a file
        # deleted before that record) are removed unless the file is about to be processed.
        accounted = {record.doc_id for record in known.values()} | {source.doc_id for source in files}
        for doc_id in set(held) - accounted:
            run.store.delete_document(doc_id)

    def _process(self, run: _Run, todo: list[_Pending]) -> None:
        window: list[_Pending] = []
        for pending in todo:
            run.progress.current_file = pending.source.relative_path
            self._notify(run.progress)
            self._load(run, pending)
            if pending.chunks:
                window.append(pending)
            else:
                run.progress.files_done += 1
            if sum(len(p.chunks) for p in window) >= EMBEDDING_WINDOW:
                self._embed_and_store(run, window)
                window = []
        if window:
            self._embed_and_store(run, window)

    def _load(self, run: _Run, pending: _Pending) -> None:
        source, previous = pending.source, pending.previous
        try:
            document = load(source, self.settings.ingest.max_file_mb, self.settings.ingest.ocr)
        except DocumentError as exc:
            status = outcome.UNSUPPORTED if isinstance(exc, UnsupportedFormatError) else outcome.FAILED
            # The last good version of a document that is now broken stays searchable.
            kept = previous.indexed_hash if previous else None
            reason = str(exc) + (" La version précédente reste dans l'index." if kept else "")
            self._record(run, pending, status, None, kept, previous.chunks if kept else 0, reason)
            run.report.files.append(FileReport(source.relative_path, status, reason=reason))
            return
        pending.document = document
        if not document.blocks:
            if self._ocr_now_possible:
                reason = "Aucun texte lisible, même par OCR : document vide ou image illisible."
            elif not self.settings.ingest.ocr:
                reason = "Aucun texte extractible (document scanné ?) et OCR désactivé (réglage ingest.ocr)."
            else:
                reason = "Aucun texte extractible (document scanné ?) : installez Tesseract (tesseract-ocr-fra)."
            run.store.delete_document(source.doc_id)
            self._record(run, pending, outcome.NO_TEXT, document, None, 0, reason)
            run.report.files.append(
                FileReport(source.relative_path, outcome.NO_TEXT, 0, document.pages, document.format, reason)
            )
            return
        pending.chunks = self.splitter.run(source, document, pending.file_hash, pending.version)

    def _embed_and_store(self, run: _Run, window: list[_Pending]) -> None:
        store, report, progress = run.store, run.report, run.progress
        chunks = [chunk for pending in window for chunk in pending.chunks]
        reusable: dict[str, list[float]] = {}
        for pending in window:
            if pending.source.doc_id in self._held:
                reusable.update(store.vectors_by_content(pending.source.doc_id))
        missing = [chunk for chunk in chunks if chunk.content_hash not in reusable]
        fresh = self.embedder.embed_passages([chunk.embedding_text for chunk in missing])
        computed = dict(zip((chunk.content_hash for chunk in missing), fresh, strict=True))
        report.embedded_chunks += len(missing)
        for pending in window:
            vectors = np.array(
                [computed.get(c.content_hash, reusable.get(c.content_hash)) for c in pending.chunks], dtype=np.float32
            )
            store.upsert(pending.chunks, vectors)
            store.delete_document(pending.source.doc_id, keep_version=pending.version)
            document = pending.document
            self._record(
                run,
                pending,
                outcome.INDEXED,
                document,
                pending.version,
                len(pending.chunks),
                "; ".join(document.notes) or None,
            )
            report.files.append(
                FileReport(
                    pending.source.relative_path,
                    outcome.INDEXED,
                    len(pending.chunks),
                    document.pages,
                    document.format,
                    "; ".join(document.notes) or None,
                )
            )
            progress.files_done += 1
            progress.chunks_done += len(pending.chunks)
            self._notify(progress)

    def _record(
        self,
        run: _Run,
        pending: _Pending,
        status: str,
        document: LoadedDocument | None,
        indexed_hash: str | None,
        chunks: int,
        reason: str | None,
    ) -> None:
        source = pending.source
        run.manifest.record(
            run.collection,
            DocumentRecord(
                path=source.relative_path,
                doc_id=source.doc_id,
                file_hash=pending.file_hash,
                indexed_hash=indexed_hash,
                status=status,
                chunks=chunks,
                pages=document.pages if document else None,
                title=document.title if document else None,
                format=document.format if document else source.extension.lstrip("."),
                service=source.service,
                doc_date=document.doc_date.isoformat() if document and document.doc_date else None,
                reason=reason,
                details=json.dumps(
                    {
                        "pages_without_text": document.pages_without_text,
                        "ocr_pages": document.ocr_pages,
                        "ocr_tried": self._ocr_now_possible and document.format == "pdf",
                    }
                )
                if document
                else None,
            ),
        )

    def _drop_abandoned_rebuilds(self, manifest: Manifest, store: ChunkStore, keep: set[str]) -> None:
        """A rebuild killed half-way leaves a partial collection: nobody reads it, so it goes."""
        prefix = f"{self.settings.store.collection}-"
        for name in store.collection_names():
            if name.startswith(prefix) and name not in keep:
                store.client.delete_collection(name)
        for name in manifest.collections() - keep:
            manifest.forget_collection(name)

    @staticmethod
    def _drop_collection(store: ChunkStore, name: str) -> None:
        if name in store.collection_names():
            store.client.delete_collection(name)

    def _notify(self, progress: Progress) -> None:
        progress.updated_at = time.time()
        for callback in self.callbacks:
            callback(progress)
