"""Ingestion end to end with the real parser, the real embedding model and a real embedded Chroma."""

import json
import shutil

import pytest

from ingest.manifest import Manifest
from ingest.pipeline import IngestionPipeline
from ingest.progress import Phase
from ingest.store import ChromaStore
from ingest.worker import LoadWorker
from sourcier.layout import StoreLayout
from tests.conftest import (
    COURRIERS,
    COUTHENANS,
    FICHES,
    PUTANGES,
    copy_into,
    live_chunks,
    make_settings,
    requires_tesseract,
)
from tests.fakes import SYSTEM

PDF_A = COUTHENANS / "assets" / "pdf" / "CR_reunion_20210917.pdf"
PDF_B = COUTHENANS / "assets" / "pdf" / "CR_conseil_municipal_24_02_2023.pdf"
DOCX = COUTHENANS / "assets" / "pdf" / "2021-05_communication mairieA5.docx"
FICHE = FICHES / "F1965.html"


def chunks_by_source(settings, embedder) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for chunk in live_chunks(settings):
        found.setdefault(chunk.metadata["source"], []).append(chunk.metadata)
    return found


def active_collection(settings) -> str:
    with Manifest(settings.store) as manifest:
        return manifest.active_collection(settings.store.collection)


def statuses(report) -> dict[str, str]:
    return {file.path: file.status for file in report.files}


def test_incremental_add_change_delete(tmp_path, embedder, monkeypatch):
    settings = make_settings(tmp_path)
    corpus = settings.corpus_dir
    copy_into(corpus, "conseil-municipal", PDF_A, DOCX)
    (fiche,) = copy_into(corpus, "elections", FICHE)
    ingest = IngestionPipeline(settings, embedder=embedder)

    first = ingest.run()
    assert set(statuses(first).values()) == {"indexed"}
    assert first.embedded_chunks == first.total_chunks > 0
    chunks = chunks_by_source(settings, embedder)
    pdf_chunks = chunks["conseil-municipal/CR_reunion_20210917.pdf"]
    assert all(c["page"] >= 1 and c["format"] == "pdf" and c["service"] == "conseil-municipal" for c in pdf_chunks)
    assert all(c["doc_date"] == "2021-09-17" for c in pdf_chunks)
    html_chunks = chunks["elections/F1965.html"]
    assert any(c.get("section", "").startswith("Pour le domicile (ou résidence)") for c in html_chunks)
    assert {c["chunk_id"] for c in html_chunks} == {
        f"{c['doc_id']}:{c['version'][:12]}:{c['chunk_index']:04d}" for c in html_chunks
    }

    # Unchanged files are skipped without parsing or embedding.
    def no_parsing(*args, **kwargs):
        raise AssertionError("an unchanged file was parsed")

    monkeypatch.setattr(LoadWorker, "load", no_parsing)
    second = ingest.run()
    assert set(statuses(second).values()) == {"unchanged"}
    assert second.embedded_chunks == 0 and second.total_chunks == first.total_chunks
    monkeypatch.undo()

    # A changed file: its new chunks replace the old ones; unchanged passages keep their vectors.
    fiche.write_text(
        fiche.read_text().replace("</article>", "<p>Nouveau paragraphe ajouté par la mairie.</p></article>")
    )
    third = ingest.run()
    assert statuses(third)["elections/F1965.html"] == "indexed"
    assert statuses(third)["conseil-municipal/CR_reunion_20210917.pdf"] == "unchanged"
    new_html = chunks_by_source(settings, embedder)["elections/F1965.html"]
    assert len({c["file_hash"] for c in new_html}) == 1 and new_html[0]["file_hash"] != html_chunks[0]["file_hash"]
    assert 0 < third.embedded_chunks < len(new_html)

    # Added and deleted files.
    copy_into(corpus, "conseil-municipal", PDF_B)
    (corpus / "conseil-municipal" / DOCX.name).unlink()
    fourth = ingest.run()
    assert statuses(fourth)["conseil-municipal/CR_conseil_municipal_24_02_2023.pdf"] == "indexed"
    assert statuses(fourth)[f"conseil-municipal/{DOCX.name}"] == "removed"
    assert set(chunks_by_source(settings, embedder)) == {
        "conseil-municipal/CR_reunion_20210917.pdf",
        "conseil-municipal/CR_conseil_municipal_24_02_2023.pdf",
        "elections/F1965.html",
    }


def test_bad_inputs_are_reported_and_the_rest_is_indexed(tmp_path, embedder):
    settings = make_settings(tmp_path)
    settings.ingest.ocr = False  # a scan then stays without text (OCR has its own test in test_quality)
    corpus = settings.corpus_dir
    copy_into(corpus, "conseil-municipal", PDF_A, PUTANGES / "2024" / "pv-de-la-seance-du-19-02-2024.pdf")
    copy_into(corpus, "rh", COURRIERS / "latest" / "entretien_prealable_au_licenciement_personnel.docx")
    (corpus / "rh" / "vide.pdf").touch()
    shutil.copy(FICHE, corpus / "rh" / "deguise.pdf")
    (corpus / "rh" / "budget.xlsx").write_bytes(b"PK\x03\x04")
    (corpus / "rh" / ".~lock.brouillon.odt#").write_text("verrou LibreOffice")

    report = IngestionPipeline(settings, embedder=embedder).run()
    assert statuses(report) == {
        "conseil-municipal/CR_reunion_20210917.pdf": "indexed",
        "conseil-municipal/pv-de-la-seance-du-19-02-2024.pdf": "no_text",
        "rh/entretien_prealable_au_licenciement_personnel.docx": "failed",
        "rh/vide.pdf": "failed",
        "rh/deguise.pdf": "failed",
        "rh/budget.xlsx": "unsupported",
        "rh/.~lock.brouillon.odt#": "skipped",
    }
    written = json.loads(StoreLayout(settings.store.path).last_ingestion.read_text())
    by_path = {f["path"]: f for f in written["files"]}
    assert by_path["conseil-municipal/pv-de-la-seance-du-19-02-2024.pdf"]["pages"] == 2
    assert "scanné" in by_path["conseil-municipal/pv-de-la-seance-du-19-02-2024.pdf"]["reason"]
    assert "DOCX endommagé" in by_path["rh/entretien_prealable_au_licenciement_personnel.docx"]["reason"]
    assert "vide" in by_path["rh/vide.pdf"]["reason"]
    assert "n'est pas un PDF" in by_path["rh/deguise.pdf"]["reason"]
    assert by_path["conseil-municipal/CR_reunion_20210917.pdf"]["chunks"] > 0
    assert written["counts"] == {"indexed": 1, "no_text": 1, "failed": 3, "unsupported": 1, "skipped": 1}


def test_a_document_broken_by_an_update_keeps_its_last_good_version(tmp_path, embedder):
    settings = make_settings(tmp_path)
    (pdf,) = copy_into(settings.corpus_dir, "conseil-municipal", PDF_A)
    ingest = IngestionPipeline(settings, embedder=embedder)
    before = ingest.run().total_chunks

    pdf.write_bytes(pdf.read_bytes()[:400])  # truncated by a failed copy
    report = ingest.run()
    (entry,) = report.files
    assert entry.status == "failed" and "version précédente reste" in entry.reason
    assert report.total_chunks == before
    # And the next run does not redo the broken file needlessly.
    assert statuses(ingest.run()) == {"conseil-municipal/CR_reunion_20210917.pdf": "unchanged"}


class Boom(Exception):
    pass


def test_rebuild_replaces_the_live_index_only_when_complete(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "conseil-municipal", PDF_A, PDF_B)
    live = IngestionPipeline(settings, embedder=embedder).run()
    live_collection = active_collection(settings)

    def fail_midway(progress):
        if progress.phase == Phase.INDEXING and progress.files_done >= 1:
            raise Boom

    with pytest.raises(Boom):
        IngestionPipeline(settings, embedder=embedder, callbacks=[fail_midway]).run(rebuild=True)
    assert active_collection(settings) == live_collection
    store = ChromaStore.open(settings.store, embedder.name, live_collection)
    assert store.count() == live.total_chunks
    (hits,) = store.query([embedder.embed_query("conseil municipal")], k=2)
    assert len(hits) == 2

    rebuilt = IngestionPipeline(settings, embedder=embedder).run(rebuild=True)
    assert set(statuses(rebuilt).values()) == {"indexed"}
    assert active_collection(settings) != live_collection
    names = store.collection_names()
    assert names == [active_collection(settings)]  # the old index and the abandoned attempt are gone
    assert rebuilt.total_chunks == live.total_chunks


def test_new_chunking_settings_redo_the_chunks(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHE)
    first = IngestionPipeline(settings, embedder=embedder).run()
    settings.chunking.size = 600
    second = IngestionPipeline(settings, embedder=embedder).run()
    assert statuses(second) == {"elections/F1965.html": "indexed"}
    chunks = chunks_by_source(settings, embedder)["elections/F1965.html"]
    assert len({c["version"] for c in chunks}) == 1 and len(chunks) == second.total_chunks > first.total_chunks
    assert all(len(c.text) <= 600 for c in live_chunks(settings))


@requires_tesseract
def test_a_scan_that_ocr_cannot_read_is_not_read_again_on_the_next_run(tmp_path, embedder):
    from pypdf import PdfWriter

    settings = make_settings(tmp_path)
    (settings.corpus_dir / "archives").mkdir(parents=True)
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # an image-only page with nothing on it
    with (settings.corpus_dir / "archives" / "blanc.pdf").open("wb") as handle:
        writer.write(handle)
    first = IngestionPipeline(settings, embedder=embedder).run()
    assert first.files[0].status == "no_text" and "même par OCR" in first.files[0].reason
    second = IngestionPipeline(settings, embedder=embedder).run()
    assert second.files[0].status == "unchanged"


def test_an_index_built_with_a_model_folder_opens_again_with_the_same_settings(tmp_path, embedder):
    """The model's name is the folder's name before and after loading: no « --rebuild » demanded afterwards."""
    from ingest.embed import Embedder
    from rag.chain import Answerer

    settings = make_settings(tmp_path)
    settings.embedding.model = str(embedder.info.path)  # a sentence-transformers folder given by path
    copy_into(settings.corpus_dir, "elections", FICHE)
    fresh = Embedder(settings.embedding)
    name = fresh.name
    assert name.startswith(embedder.info.path.name)  # known without loading
    IngestionPipeline(settings, embedder=fresh).run()
    assert fresh.name == name  # and the same once loaded
    answerer = Answerer.from_settings(settings, embedder=Embedder(settings.embedding))
    assert answerer.retriever.invoke("justificatif de domicile liste électorale", reader=SYSTEM)


def test_no_entry_of_the_corpus_nor_a_change_during_the_run_stops_it(tmp_path, embedder, monkeypatch):
    """Each of these once stopped a run with a traceback and nothing recorded (so every later run stopped again): a
    name of 246 bytes (legal on ext4, but too long to take « .acces.toml »), a file deleted between discovery and
    hashing, a folder the service account may not list, a file indexed earlier then made unreadable."""
    import pathlib

    import ingest.pipeline as pipeline_module

    settings = make_settings(tmp_path)
    corpus = settings.corpus_dir
    (fiche,) = copy_into(corpus, "elections", FICHE)
    long_name = corpus / "rh" / ("a" * 246 + ".txt")
    long_name.parent.mkdir(parents=True)
    long_name.write_text("Note de service sur les congés annuels des agents. " * 20, encoding="utf-8")
    gone = corpus / "rh" / "b-supprime.txt"
    gone.write_text("Un fichier supprimé pendant l'ingestion. " * 20, encoding="utf-8")
    (corpus / "secret").mkdir()
    (corpus / "secret" / "note.txt").write_text("Texte. " * 50, encoding="utf-8")

    def delete_while_scanning(progress):
        if progress.phase is Phase.SCANNING and progress.current_file == "rh/b-supprime.txt" and gone.exists():
            gone.unlink()  # between discovery and hashing

    real_iterdir = pathlib.Path.iterdir

    def iterdir(self):
        if self.name == "secret":  # as a `chmod 000` folder is for a non-root service account
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    first = IngestionPipeline(settings, embedder=embedder, callbacks=[delete_while_scanning]).run()
    lines = {file.path: (file.status, file.reason) for file in first.files}
    assert lines[fiche.relative_to(corpus).as_posix()][0] == "indexed"
    assert lines[long_name.relative_to(corpus).as_posix()][0] == "indexed"
    assert lines["rh/b-supprime.txt"][0] == "failed" and "disparu pendant l'ingestion" in lines["rh/b-supprime.txt"][1]
    assert lines["secret"][0] == "failed" and "droits insuffisants" in lines["secret"][1]
    before = chunks_by_source(settings, embedder)["elections/F1965.html"]

    real_hash = pipeline_module.sha256_file

    def unreadable(path):
        if path.name == "F1965.html":  # as a file made `chmod 000` after it was indexed
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path)

    monkeypatch.setattr(pipeline_module, "sha256_file", unreadable)
    second = IngestionPipeline(settings, embedder=embedder).run()
    status, reason = {file.path: (file.status, file.reason) for file in second.files}["elections/F1965.html"]
    assert status == "failed" and "droits insuffisants" in reason and "dernière version indexée" in reason
    assert len(chunks_by_source(settings, embedder)["elections/F1965.html"]) == len(before)  # its last good version


def test_text_without_words_and_too_many_passages_never_reach_the_embedder(tmp_path, embedder):
    """A 5 MB line without a space was ~5,870 passages, 1 MB of unclosed front matter 1,698 that crowded real
    documents out of dense retrieval; here the same at small sizes (and a small passage limit)."""
    settings = make_settings(tmp_path)
    settings.ingest.max_chunks_per_file = 30
    corpus = settings.corpus_dir
    (fiche,) = copy_into(corpus, "elections", FICHE)
    junk = corpus / "divers"
    junk.mkdir()
    (junk / "export.txt").write_text("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 6000, encoding="utf-8")  # one line
    (junk / "symboles.txt").write_text("§§ ## @@ ** ~~ ^^ ¤¤ " * 2000, encoding="utf-8")
    (junk / "front.md").write_text("---\ntitle: x\n" + "cle: valeur quelconque\n" * 3000, encoding="utf-8")
    report = IngestionPipeline(settings, embedder=embedder).run()
    lines = {file.path: (file.status, file.reason or "") for file in report.files}
    assert lines["elections/F1965.html"][0] == "indexed"
    assert lines["divers/export.txt"][0] == "failed" and lines["divers/export.txt"][1].startswith("Texte sans mots")
    assert lines["divers/symboles.txt"][0] == "failed" and "Texte sans mots" in lines["divers/symboles.txt"][1]
    assert lines["divers/front.md"][0] == "failed" and lines["divers/front.md"][1].startswith("Trop d'extraits")
    assert set(chunks_by_source(settings, embedder)) == {"elections/F1965.html"}
    again = IngestionPipeline(settings, embedder=embedder).run()  # not read again until they change
    assert again.embedded_chunks == 0
    kept = {f.path: f for f in again.files}["divers/export.txt"]
    assert kept.status == "unchanged" and kept.reason.startswith("Texte sans mots")


def test_a_killed_rebuilds_partial_collection_goes_at_the_next_plain_run(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHE)
    IngestionPipeline(settings, embedder=embedder).run()
    live = active_collection(settings)
    partial = f"{settings.store.collection}-20261207-101500-dead00"  # as a rebuild killed half-way leaves it
    ChromaStore.open(settings.store, embedder.name, partial)
    IngestionPipeline(settings, embedder=embedder).run()  # a plain run, nothing changed
    names = ChromaStore.open(settings.store, embedder.name, live).collection_names()
    assert partial not in names and live in names
