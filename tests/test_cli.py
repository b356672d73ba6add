"""The `sourcier` command as a user types it: exit codes and messages."""

import json
import os
import subprocess
import sys

from tests.conftest import COUTHENANS, MODELS, REPO, copy_into, free_port
from tests.workers import THREAD_LIMITS


def sourcier(tmp_path, *args, stdin: str | None = None, **env):
    environment = {
        **{name: os.environ[name] for name in THREAD_LIMITS if name in os.environ},  # one core per test worker
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SOURCIER_CORPUS_DIR": str(tmp_path / "corpus"),
        "SOURCIER_STORE__PATH": str(tmp_path / "vectorstore"),
        "SOURCIER_EMBEDDING__MODELS_DIR": str(MODELS),
        **env,
    }
    environment = {key: value for key, value in environment.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=REPO,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ingest_then_status(tmp_path):
    copy_into(tmp_path / "corpus", "conseil-municipal", COUTHENANS / "assets" / "pdf" / "CR_reunion_20210917.pdf")
    (tmp_path / "corpus" / "conseil-municipal" / "vide.docx").touch()
    result = sourcier(tmp_path, "ingest", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "1 indexé" in result.stdout and "1 en échec" in result.stdout
    assert "vide.docx — Fichier vide" in result.stdout

    status = sourcier(tmp_path, "status", "--json")
    data = json.loads(status.stdout)
    assert data["documents"] == 2 and data["chunks"] > 0
    assert data["embedding_model"] == "multilingual-e5-small (openvino)"
    assert data["last_run"]["counts"] == {"indexed": 1, "failed": 1}
    assert data["problems"][0]["path"] == "conseil-municipal/vide.docx"

    text = sourcier(tmp_path, "status").stdout
    assert "Extraits indexés" in text and "Documents à problème : 1" in text

    # Unchanged corpus: the quality report (most of an unchanged re-run's time) is not recomputed.
    again = sourcier(tmp_path, "ingest", "--quiet")
    assert again.returncode == 0 and "Index inchangé" in again.stdout and "Qualité des documents" not in again.stdout

    # The store (state database, reports, the lexical index) is the service account's alone.
    written = [path for path in (tmp_path / "vectorstore").rglob("*") if path.is_file()]
    assert written and [p for p in written if p.stat().st_mode & 0o077] == []


def test_unreachable_store_exits_non_zero_with_a_clear_message(tmp_path):
    copy_into(tmp_path / "corpus", "x", COUTHENANS / "assets" / "pdf" / "CR_reunion_20210917.pdf")
    result = sourcier(
        tmp_path, "ingest", "--quiet", SOURCIER_STORE__HOST="127.0.0.1", SOURCIER_STORE__PORT=str(free_port())
    )
    assert result.returncode == 1
    assert "Base vectorielle injoignable" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_corpus_and_paths_outside_it(tmp_path):
    result = sourcier(tmp_path, "ingest", "--quiet")
    assert result.returncode == 1 and "Le dossier du corpus n'existe pas" in result.stderr
    (tmp_path / "corpus").mkdir()
    result = sourcier(tmp_path, "ingest", "--quiet", str(REPO / "pyproject.toml"))
    assert result.returncode == 1 and "hors du corpus" in result.stderr


def test_settings_from_toml_file(tmp_path):
    config = tmp_path / "sourcier.toml"
    config.write_text(f'corpus_dir = "{tmp_path / "ailleurs"}"\n[store]\npath = "{tmp_path / "vs"}"\n')
    result = sourcier(tmp_path, "--config", str(config), "ingest", "--quiet", SOURCIER_CORPUS_DIR=None)
    assert "ailleurs" in result.stderr


def test_background_ingestion_uses_the_settings_it_was_started_with(tmp_path, monkeypatch):
    """The app hands its settings to the child process: another environment cannot send it to another index."""
    import time

    from ingest import background
    from ingest.live import read_live_documents
    from sourcier.access import Reader
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    (settings.corpus_dir / "rh").mkdir(parents=True)
    (settings.corpus_dir / "rh" / "note.txt").write_text("Les congés se posent dans le logiciel RH. " * 20)
    elsewhere = tmp_path / "autre-index"
    monkeypatch.setenv("SOURCIER_STORE__PATH", str(elsewhere))
    monkeypatch.setenv("SOURCIER_CORPUS_DIR", str(tmp_path / "autre-corpus"))
    child = background.start(settings, Reader.system("démonstration"))  # demo mode: the admin of the demo
    child.wait(timeout=300)
    time.sleep(0.2)
    progress = background.progress(settings)
    assert child.returncode == 0 and progress and progress.finished and not progress.error, background.last_log(
        settings
    )
    assert list(read_live_documents(settings).documents) == ["rh/note.txt"]
    assert not elsewhere.exists()
