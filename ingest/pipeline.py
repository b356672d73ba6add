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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest import ocr
from ingest.access import Relabelled, label, label_chunks
from ingest.discover import discover, in_scope, path_error
from ingest.documents import LoadedDocument, SourceFile
from ingest.embed import Embedder, TextEmbedder
from ingest.junk import junk_reason
from ingest.lexical import LexicalIndex
from ingest.loaders import LoadOptions
from ingest.lock import IngestionLock
from ingest.manifest import INDEX_VERSION, DocumentRecord, Manifest
from ingest.plan import Pending, plan_run
from ingest.progress import Phase, Progress, ProgressCallback, ProgressFile
from ingest.report import DocumentStatus, FileReport, IngestionReport
from ingest.split import Splitter
from ingest.store import ChromaStore, VectorStore
from ingest.worker import LoadWorker
from sourcier.access import AccessPolicy
from sourcier.clock import now
from sourcier.errors import DocumentError, LimitExceededError, UnsupportedFormatError
from sourcier.hashing import sha256_file
from sourcier.layout import StoreLayout
from sourcier.models.embedding import embedding_model_id
from sourcier.settings import Settings

# Chunks of several small documents are embedded together: batching is what makes the CPU efficient.
EMBEDDING_WINDOW = 64
# Files read ahead of the one being recorded (their text waits in memory: a few documents at most).
READ_AHEAD = 4

# Opens the collection a run writes to (the live one, or a new one for a rebuild).
StoreOpener = Callable[[str], VectorStore]


@dataclass
class _Run:
    """What every stage of one run writes to."""

    manifest: Manifest
    store: VectorStore
    report: IngestionReport
    progress: Progress


class IngestionPipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: TextEmbedder | None = None,
        callbacks: Iterable[ProgressCallback] = (),
        open_store: StoreOpener | None = None,
    ) -> None:
        self.settings = settings
        self.layout = StoreLayout(settings.store.path)
        self.embedder = embedder or Embedder(settings.embedding)
        self.splitter = Splitter(settings.chunking)
        self.policy = AccessPolicy.load(settings.access.policy)
        self.callbacks = [ProgressFile(self.layout.progress), *callbacks]
        self._open_store = open_store or (
            lambda collection: ChromaStore.open(settings.store, self.embedder.name, collection)
        )
        self._held: dict = {}
        self._chunking = settings.chunking.model_dump_json()
        self._load_options = LoadOptions(**settings.ingest.model_dump(include=set(LoadOptions.__dataclass_fields__)))
        # A scan recorded without text is read again once Tesseract is there.
        self._ocr_now_possible = settings.ingest.ocr and ocr.available()

    def run(self, paths: Sequence[Path] = (), rebuild: bool = False) -> IngestionReport:
        self.layout.ensure()
        with (
            IngestionLock(self.settings.store),
            Manifest(self.settings.store) as manifest,
            LoadWorker(self._load_options) as self._worker,
        ):
            return self._run(manifest, list(paths), rebuild)

    # ------------------------------------------------------------------------------------------------

    def _run(self, manifest: Manifest, paths: list[Path], rebuild: bool) -> IngestionReport:
        settings = self.settings
        progress = Progress()
        self._notify(progress)
        live = manifest.active_collection(settings.store.collection)
        run_id = uuid.uuid4().hex[:12]
        # The run's id too: two rebuilds can start within one second (the first one failed at once).
        target = f"{settings.store.collection}-{time.strftime('%Y%m%d-%H%M%S')}-{run_id[:6]}" if rebuild else live
        report = IngestionReport(
            run_id=run_id,
            started_at=now(),
            corpus=str(settings.corpus_dir.resolve()),
            store=settings.store.location,
            collection=target,
            embedding_model=self.embedder.name,
            rebuild=rebuild,
        )
        started = time.perf_counter()
        try:
            store = self._open_store(target)
            # Any run, not only the next rebuild: a plain run after a killed rebuild once left its partial copy.
            self._drop_abandoned_rebuilds(manifest, store, keep={live, target})
            manifest.start_run(report.run_id, target, report.started_at)
            discovery = discover(settings.corpus_dir, paths)
            files = discovery.files
            report.files += [
                FileReport(s.path, DocumentStatus.FAILED if s.problem else DocumentStatus.SKIPPED, reason=s.reason)
                for s in discovery.skipped
            ]
            known = manifest.documents(target)
            held = self._held = store.versions()

            progress.phase, progress.files_total = Phase.SCANNING, len(files)
            self._notify(progress)
            hashed = []
            unreadable: dict[str, str] = {}  # path → why; its last good version, if any, is kept
            for source in files:
                progress.current_file = source.relative_path
                self._notify(progress)
                try:
                    hashed.append((source, sha256_file(source.path)))
                except OSError as error:
                    unreadable[source.relative_path] = path_error(error, "fichier")
                    if source.relative_path in known:  # kept as it was: planned as unchanged
                        hashed.append((source, known[source.relative_path].file_hash))
                    else:
                        report.files.append(
                            FileReport(
                                source.relative_path, DocumentStatus.FAILED, reason=unreadable[source.relative_path]
                            )
                        )
            plan = plan_run(
                hashed,
                known,
                held,
                chunking_key=self._chunking,
                in_scope=lambda path: in_scope(path, settings.corpus_dir, paths),
                readable_extensions=settings.ingest.extensions,
                ocr_possible=self._ocr_now_possible,
            )
            run = _Run(manifest, store, report, progress)
            for record in plan.unchanged:
                status = DocumentStatus.FAILED if record.path in unreadable else DocumentStatus.UNCHANGED
                reason = unreadable.get(record.path, record.reason)
                report.files.append(FileReport(record.path, status, record.chunks, record.pages, record.format, reason))
            progress.files_done += len(plan.unchanged)
            for record in plan.removed:
                store.delete_document(record.doc_id)
                manifest.remove(target, record.path)
                report.files.append(FileReport(record.path, DocumentStatus.REMOVED, reason="Fichier retiré du corpus."))
            for doc_id in plan.orphans:
                store.delete_document(doc_id)

            progress.phase = Phase.INDEXING
            progress.bytes_total = sum(_size(pending.source.path) for pending in plan.todo)
            progress.indexing_started_at = time.time()
            self._process(run, plan.todo)

            progress.phase = Phase.FINALISING
            self._notify(progress)
            # Always in step with the store and the access policy (cheap when nothing changed), so a crash before
            # these lines heals and a policy change reaches unchanged documents.
            label_chunks(store, self.policy, settings.corpus_dir)
            LexicalIndex.sync(self.layout.lexical(target), store, version=report.run_id)
            if rebuild:
                manifest.switch_collection(target, live)
                store.drop_collection(live)
                LexicalIndex.remove(self.layout.lexical(live))
            manifest.set_state(INDEX_VERSION, report.run_id)  # every replica reads the index again
            report.total_chunks = store.count()
        except BaseException as exc:
            progress.error = str(exc) or type(exc).__name__
            progress.finished = True
            with contextlib.suppress(Exception):  # a failing callback must not mask the original error
                self._notify(progress)
            raise
        report.duration_s = round(time.perf_counter() - started, 3)
        report.finished_at = now()
        report.write(self.layout.last_ingestion)
        manifest.finish_run(report.run_id, report.to_dict())
        progress.phase, progress.finished = Phase.DONE, True
        self._notify(progress)
        return report

    def _process(self, run: _Run, todo: list[Pending]) -> None:
        window: list[Pending] = []
        upcoming = iter(todo)
        reads: deque[tuple[Pending, Future]] = deque()
        # The next files are read (in the child process) while the model embeds: parsing and embedding overlap.
        # Only reading runs ahead; every record is still written here, in order.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sourcier-lecture") as reader:
            try:
                while True:
                    while len(reads) < READ_AHEAD and (pending := next(upcoming, None)) is not None:
                        reads.append((pending, reader.submit(self._read, pending.source)))
                    if not reads:
                        break
                    pending, read = reads.popleft()
                    run.progress.current_file = pending.source.relative_path
                    self._notify(run.progress)
                    self._load(run, pending, read.result())
                    if pending.chunks:
                        window.append(pending)
                    else:
                        run.progress.files_done += 1
                        run.progress.bytes_done += _size(pending.source.path)
                    if sum(len(p.chunks) for p in window) >= EMBEDDING_WINDOW:
                        self._embed_and_store(run, window)
                        window = []
            finally:
                for _, read in reads:
                    read.cancel()
        if window:
            self._embed_and_store(run, window)

    def _read(self, source: SourceFile) -> LoadedDocument | DocumentError:
        try:
            return self._worker.load(source)
        except DocumentError as exc:
            return exc

    def _load(self, run: _Run, pending: Pending, read: LoadedDocument | DocumentError) -> None:
        source, previous = pending.source, pending.previous
        if isinstance(read, DocumentError):
            status = DocumentStatus.UNSUPPORTED if isinstance(read, UnsupportedFormatError) else DocumentStatus.FAILED
            # The last good version of a document that is now broken stays searchable.
            kept = previous.indexed_hash if previous else None
            reason = str(read) + (" La version précédente reste dans l'index." if kept else "")
            self._record(run, pending, status, None, kept, previous.chunks if kept else 0, reason)
            run.report.files.append(FileReport(source.relative_path, status, reason=reason))
            return
        pending.document = document = read
        if not document.blocks:
            if document.format != "pdf":
                reason = "Document sans texte : vide, ou seulement de la mise en forme."
            elif self._ocr_now_possible:
                reason = "Aucun texte lisible, même par OCR : document vide ou image illisible."
            elif not self.settings.ingest.ocr:
                reason = "Aucun texte extractible (document scanné ?) et OCR désactivé (réglage ingest.ocr)."
            else:
                reason = "Aucun texte extractible (document scanné ?) : installez Tesseract (tesseract-ocr-fra)."
            reason = " ".join([reason, *document.notes])  # e.g. how much of a scan OCR was allowed to read
            run.store.delete_document(source.doc_id)
            self._record(run, pending, DocumentStatus.NO_TEXT, document, None, 0, reason)
            run.report.files.append(
                FileReport(source.relative_path, DocumentStatus.NO_TEXT, 0, document.pages, document.format, reason)
            )
            return
        chunks = self.splitter.run(source, document, pending.file_hash, pending.version)
        junk = junk_reason(
            "\n".join(b.text for b in document.blocks), len(chunks), self.settings.ingest.max_chunks_per_file
        )
        if junk:  # recorded as failed: not embedded again until the file changes
            self._load(run, pending, LimitExceededError(junk))
            return
        pending.chunks = chunks
        label(pending.chunks, self.policy, self.settings.corpus_dir)

    def _embed_and_store(self, run: _Run, window: list[Pending]) -> None:
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
        # One write for the window (each write to the store has a fixed cost). A crash before a document's record
        # leaves the store holding a version the manifest does not: the next run's plan sees it and redoes it.
        vectors = np.array([computed.get(c.content_hash, reusable.get(c.content_hash)) for c in chunks], np.float32)
        store.upsert(chunks, vectors)
        for pending in window:
            store.delete_document(pending.source.doc_id, keep_version=pending.version)
            document = pending.document
            self._record(
                run,
                pending,
                DocumentStatus.INDEXED,
                document,
                pending.version,
                len(pending.chunks),
                "; ".join(document.notes) or None,
            )
            report.files.append(
                FileReport(
                    pending.source.relative_path,
                    DocumentStatus.INDEXED,
                    len(pending.chunks),
                    document.pages,
                    document.format,
                    "; ".join(document.notes) or None,
                )
            )
            progress.files_done += 1
            progress.bytes_done += _size(pending.source.path)
            progress.chunks_done += len(pending.chunks)
            self._notify(progress)

    def _record(
        self,
        run: _Run,
        pending: Pending,
        status: DocumentStatus,
        document: LoadedDocument | None,
        indexed_hash: str | None,
        chunks: int,
        reason: str | None,
    ) -> None:
        source = pending.source
        run.manifest.record(
            run.store.name,
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

    def _drop_abandoned_rebuilds(self, manifest: Manifest, store: VectorStore, keep: set[str]) -> None:
        """A rebuild killed half-way leaves a partial collection: nobody reads it, so it goes."""
        prefix = f"{self.settings.store.collection}-"
        for name in store.collection_names():
            if name.startswith(prefix) and name not in keep:
                store.drop_collection(name)
        for name in manifest.collections() - keep:
            manifest.forget_collection(name)

    def _notify(self, progress: Progress) -> None:
        progress.updated_at = time.time()
        for callback in self.callbacks:
            callback(progress)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since the scan: it weighs nothing left to do
        return 0


def apply_access_policy(settings: Settings, policy: AccessPolicy) -> Relabelled:
    """A change of rights written into the live index without reading or embedding anything again: the chunks'
    groups relabelled and the lexical copy refreshed — the end of an ingestion — under the ingestion lock, then a new
    index version, so that every replica reads the new rights at once."""
    layout = StoreLayout(settings.store.path)
    with IngestionLock(settings.store), Manifest(settings.store) as manifest:
        collection = manifest.active_collection(settings.store.collection)
        store = ChromaStore.open(settings.store, embedding_model_id(settings.embedding), collection)
        changed = label_chunks(store, policy, settings.corpus_dir)
        version = f"droits-{now()}"
        LexicalIndex.sync(layout.lexical(collection), store, version)
        manifest.set_state(INDEX_VERSION, version)
    return changed
