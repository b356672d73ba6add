"""Hostile and careless input: nothing a file can do brings ingestion down, and every file gets its line.

One ingestion of the generated suite (`tests/hostile_files.py`) beside two real fiches, with the real parsers in the
real reading worker, the real embedding model and an embedded Chroma; then each class of file against its expected
outcome, the quality report on the result, a second run that retries nothing, the parse-time and memory limits, and a
`kill -9` in the middle of a hostile run. The suite's peak memory is measured by `tests/bench/hostile.py`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from ingest.documents import SourceFile
from ingest.loaders import LoadOptions, load
from ingest.manifest import Manifest
from ingest.pipeline import IngestionPipeline
from ingest.progress import read_progress
from ingest.report import DocumentStatus
from ingest.worker import LoadWorker
from quality.report import build_report
from sourcier.errors import DocumentError, LimitExceededError
from sourcier.injection import find_injections, neutralise
from sourcier.layout import StoreLayout
from tests.conftest import COURRIERS, FICHES, live_chunks, make_settings, requires_tesseract
from tests.hostile_files import (
    HOSTILE_LIMITS,
    INJECTIONS,
    SENTENCE,
    build_hostile_corpus,
    docx_bomb,
)
from tests.test_crash_and_offline import subprocess_env

pytestmark = pytest.mark.slow

# Every class of the suite → (status, words its reason must hold).
EXPECTED = {
    "fiches/F1965.html": (DocumentStatus.INDEXED, None),
    "fiches/F34779.html": (DocumentStatus.INDEXED, None),
    "noms/\\xe9l\\xe8ve.txt": (DocumentStatus.FAILED, "Nom de fichier illisible"),
    "noms/élève.txt": (DocumentStatus.INDEXED, None),
    **{f"noms/note-\\x{byte}.txt": (DocumentStatus.FAILED, "Nom de fichier illisible") for byte in ("81", "8d", "8f")},
    "noms/dossier-\\xe9t\\xe9/note.txt": (DocumentStatus.FAILED, "renommez le dossier en « dossier-été »"),
    "speciaux/lien.html": (DocumentStatus.FAILED, "Lien symbolique"),
    "speciaux/tube.txt": (DocumentStatus.FAILED, "Fichier spécial"),
    "speciaux/dossier.pdf/note.txt": (DocumentStatus.INDEXED, None),
    "speciaux/~$brouillon.docx": (DocumentStatus.SKIPPED, "temporaire"),
    ".cache": (DocumentStatus.SKIPPED, "Dossier caché"),
    "pdf/scan-8-pages.pdf": (DocumentStatus.NO_TEXT, None),
    "pdf/blanc-60-pages.pdf": (DocumentStatus.FAILED, "PDF de 60 pages : au-delà de la limite de 50 pages"),
    "bombes/bombe.docx": (DocumentStatus.FAILED, "au-delà de la limite de 20 Mo"),
    "bombes/membres.docx": (DocumentStatus.FAILED, "au-delà de la limite de 200"),
    "bombes/bombe.odt": (DocumentStatus.FAILED, "au-delà de la limite de 20 Mo"),
    "textes/une-ligne.md": (DocumentStatus.INDEXED, "1 ligne très longue"),
    "textes/profond.html": (DocumentStatus.INDEXED, "aplatie"),
    "textes/profond.md": (DocumentStatus.INDEXED, "aplatie"),
    "textes/citations.md": (DocumentStatus.INDEXED, "aplatie"),
    "textes/latin1.html": (DocumentStatus.INDEXED, None),
    "textes/sans-meta.html": (DocumentStatus.INDEXED, None),
    "textes/un-octet.txt": (DocumentStatus.INDEXED, "1 caractère endommagé"),
    "textes/koi8.txt": (DocumentStatus.INDEXED, None),
    "textes/dos.txt": (DocumentStatus.INDEXED, None),
    "textes/utf7.txt": (DocumentStatus.INDEXED, None),
    "pieges/consignes.html": (DocumentStatus.INDEXED, None),
    **{f"vides/vide-{n:02d}.txt": (DocumentStatus.FAILED, "Fichier vide") for n in range(1, 39)},
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, embedder):
    tmp_path = tmp_path_factory.mktemp("hostile")
    settings = make_settings(tmp_path)
    for name, value in HOSTILE_LIMITS.items():
        setattr(settings.ingest, name, value)
    build_hostile_corpus(settings.corpus_dir)
    pipeline = IngestionPipeline(settings, embedder=embedder)
    return settings, pipeline, pipeline.run()


def by_path(report):
    return {file.path: file for file in report.files}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_every_hostile_file_gets_its_outcome(hostile, path):
    _, _, report = hostile
    files = by_path(report)
    assert path in files, f"{path} has no line in the ingestion report"
    status, words = EXPECTED[path]
    assert files[path].status == status, files[path].reason
    if words:
        assert words in (files[path].reason or "")


def test_every_entry_of_the_corpus_is_accounted_for(hostile):
    settings, _, report = hostile
    reported = set(by_path(report))
    assert reported == set(EXPECTED)  # nothing silently dropped, nothing invented
    assert report.summary().startswith(f"{len(EXPECTED)} fichiers (")


def test_text_is_decoded_right_or_flagged(hostile):
    settings, _, _ = hostile
    texts: dict[str, str] = {}
    for chunk in live_chunks(settings):
        texts[chunk.metadata["source"]] = texts.get(chunk.metadata["source"], "") + chunk.text
    for path in ("textes/latin1.html", "textes/sans-meta.html", "textes/un-octet.txt", "textes/dos.txt"):
        assert "Le délai de déclaration est fixé" in texts[path], path
        assert "Ã" not in texts[path]
    assert "fixé à trois mois" in texts["textes/utf7.txt"]
    assert "d?lai" in texts["textes/koi8.txt"]  # the accents were lost when the file was written: flagged below
    for path in ("textes/profond.html", "textes/profond.md", "textes/citations.md"):
        assert "salle polyvalente se réserve" in texts[path], path
        assert "Après le bloc imbriqué" in texts[path], path
    assert texts["textes/une-ligne.md"].count("Le délai de déclaration") >= 2000  # all of it, not a truncation


def test_quality_report_flags_what_stays_garbled_and_no_false_duplicates(hostile, embedder):
    settings, _, _ = hostile
    report = build_report(settings, embedder)
    garbled = {finding.places[0].path for finding in report.findings if finding.details.get("kind") == "garbled"}
    assert "textes/koi8.txt" in garbled
    assert not garbled & {"textes/latin1.html", "textes/sans-meta.html", "textes/dos.txt", "textes/utf7.txt"}
    duplicate_places = [
        place.path for finding in report.findings if finding.type == "duplicate" for place in finding.places
    ]
    assert not [path for path in duplicate_places if path.startswith("vides/")]  # 38 empty files are not copies
    injection = [f for f in report.findings if f.type == "injection"]
    assert [f.places[0].path for f in injection] == ["pieges/consignes.html"]


def test_every_injection_variant_is_detected_and_cut(hostile):
    settings, _, _ = hostile
    planted = "".join(c.text for c in live_chunks(settings) if c.metadata["source"] == "pieges/consignes.html")
    assert len(find_injections(planted)) == len(INJECTIONS)
    shown = neutralise(planted)
    assert "ignore" not in shown.lower() and "réponds" not in shown and "consignes" not in shown


def test_a_second_run_retries_nothing(hostile, monkeypatch):
    settings, pipeline, _ = hostile

    def no_parsing(*args, **kwargs):
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(LoadWorker, "load", no_parsing)
    again = by_path(pipeline.run())
    for path, (status, _) in EXPECTED.items():
        if status == DocumentStatus.INDEXED or path.startswith(("pdf/", "bombes/", "vides/")):
            assert again[path].status == DocumentStatus.UNCHANGED, path


@requires_tesseract
def test_ocr_is_capped_per_file(hostile):
    _, _, report = hostile
    scan = by_path(report)["pdf/scan-8-pages.pdf"]
    assert scan.status == DocumentStatus.NO_TEXT
    assert "OCR limité : 5 pages sans texte non lues" in scan.reason


def test_a_file_that_takes_too_long_is_stopped_and_not_retried(tmp_path, embedder, monkeypatch):
    settings = make_settings(tmp_path)
    settings.ingest.parse_timeout_s = 0.5
    (settings.corpus_dir / "textes").mkdir(parents=True)
    (settings.corpus_dir / "textes" / "lent.md").write_text("# Lent\n\n" + SENTENCE * 40_000, encoding="utf-8")
    (settings.corpus_dir / "textes" / "court.txt").write_text(SENTENCE * 3, encoding="utf-8")
    pipeline = IngestionPipeline(settings, embedder=embedder)
    files = by_path(pipeline.run())
    assert files["textes/lent.md"].status == DocumentStatus.FAILED
    assert "Lecture abandonnée au bout de 0.5 s" in files["textes/lent.md"].reason
    assert files["textes/court.txt"].status == DocumentStatus.INDEXED  # the worker was replaced, the run went on
    monkeypatch.setattr(LoadWorker, "load", lambda *a, **k: pytest.fail("a file that hit a limit was read again"))
    assert by_path(pipeline.run())["textes/lent.md"].status == DocumentStatus.UNCHANGED


def test_a_file_that_needs_too_much_memory_is_stopped(tmp_path, embedder):
    settings = make_settings(tmp_path)
    settings.ingest.parse_memory_mb = 1200  # the worker itself takes ~0.9 GB of address space
    (settings.corpus_dir / "rh").mkdir(parents=True)
    docx_bomb(settings.corpus_dir / "rh" / "gros.docx", 150)  # under max_unpacked_mb, over the memory limit
    (settings.corpus_dir / "rh" / "court.txt").write_text(SENTENCE * 3, encoding="utf-8")
    files = by_path(IngestionPipeline(settings, embedder=embedder).run())
    # Stopped either by the worker's memory limit or by libxml2 failing to allocate under it: never the run.
    assert files["rh/gros.docx"].status == DocumentStatus.FAILED
    assert files["rh/court.txt"].status == DocumentStatus.INDEXED


def _source(path: Path) -> SourceFile:
    return SourceFile(path=path, relative_path=path.name, service="rh", size=max(path.stat().st_size, 1))


def test_a_damaged_archive_or_a_vanished_file_is_a_french_reason_and_the_worker_lives_on(tmp_path):
    """A zip whose central directory is damaged, or a file gone between the run's listing and its reading, used to
    kill the reading child (an uncaught exception) and be reported as a memory limit."""
    damaged = tmp_path / "repertoire-casse.docx"
    shutil.copy(next((COURRIERS / "latest").glob("*.docx")), damaged)
    data = bytearray(damaged.read_bytes())
    directory = data.rfind(b"PK\x01\x02")  # the last central directory entry: its signature broken
    data[directory : directory + 4] = b"XX\x01\x02"
    damaged.write_bytes(bytes(data))
    vanished = tmp_path / "parti.txt"
    vanished.write_text(SENTENCE)
    source = _source(vanished)
    vanished.unlink()
    with LoadWorker(LoadOptions()) as worker:
        with pytest.raises(DocumentError, match="^Archive endommagée ou tronquée") as archive:
            worker.load(_source(damaged))
        with pytest.raises(DocumentError, match="^Fichier disparu pendant l'ingestion") as gone:
            worker.load(source)
        assert not isinstance(archive.value, LimitExceededError) and not isinstance(gone.value, LimitExceededError)
        first_child = worker._process.pid
        assert worker.load(_source(FICHES / "F1965.html")).blocks
        assert worker._process.pid == first_child  # the same child read all three: it never died


def test_a_reading_child_that_crashes_is_reported_with_its_cause(tmp_path):
    slow = tmp_path / "lent.md"
    slow.write_text("# Lent\n\n" + SENTENCE * 60_000, encoding="utf-8")
    with LoadWorker(LoadOptions(parse_timeout_s=120)) as worker:
        worker.load(_source(FICHES / "F1965.html"))  # the child is up
        threading.Timer(0.5, os.kill, (worker._process.pid, signal.SIGSEGV)).start()
        with pytest.raises(LimitExceededError, match="le lecteur de ce format a planté"):
            worker.load(_source(slow))
        assert worker.load(_source(FICHES / "F1965.html")).blocks  # a new child reads the next file


@requires_tesseract
def test_a_page_too_large_to_render_is_named_not_blamed_on_the_ocr_limits(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=14_400, height=14_400)  # the largest page PDF allows: 5 m a side
    writer.add_blank_page(width=595, height=842)
    giant = tmp_path / "plan.pdf"
    with giant.open("wb") as handle:
        writer.write(handle)
    document = load(_source(giant), LoadOptions())
    assert "OCR impossible sur la page 1 (trop grande ou endommagée)." in document.notes
    assert not any("OCR limité" in note for note in document.notes)


def test_kill_9_while_a_hostile_file_is_read(tmp_path, embedder):
    settings = make_settings(tmp_path)
    (settings.corpus_dir / "textes").mkdir(parents=True)
    (settings.corpus_dir / "textes" / "a-court.txt").write_text(SENTENCE * 3, encoding="utf-8")
    (settings.corpus_dir / "textes" / "b-lent.md").write_text("# Lent\n\n" + SENTENCE * 60_000, encoding="utf-8")
    (settings.corpus_dir / "textes" / "c-court.txt").write_text(SENTENCE * 4, encoding="utf-8")
    layout = StoreLayout(settings.store.path)
    process = subprocess.Popen([sys.executable, "-m", "ui.cli", "ingest", "--quiet"], env=subprocess_env(settings))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        progress = read_progress(layout.progress)
        if progress and progress.current_file == "textes/b-lent.md":
            break
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the slow file was never reached")
    time.sleep(1.0)  # inside the parse
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert descendants, "the file is read in a worker process"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    gone, alive = psutil.wait_procs(descendants, timeout=15)
    assert not alive, "a reading process outlived the killed ingestion"

    # The slow file is shortened so that the rerun does not spend minutes embedding it: it must still be redone.
    (settings.corpus_dir / "textes" / "b-lent.md").write_text("# Lent\n\n" + SENTENCE * 5, encoding="utf-8")
    report = IngestionPipeline(settings, embedder=embedder).run()
    statuses = {f.path: f.status for f in report.files}
    assert statuses["textes/a-court.txt"] in (DocumentStatus.INDEXED, DocumentStatus.UNCHANGED)  # before the kill
    assert statuses["textes/b-lent.md"] == statuses["textes/c-court.txt"] == DocumentStatus.INDEXED
    with Manifest(settings.store) as manifest:
        recorded = manifest.documents(report.collection)
    chunks = live_chunks(settings)
    assert {c.metadata["source"] for c in chunks} == set(recorded)
    assert sum(r.chunks for r in recorded.values()) == len(chunks)
