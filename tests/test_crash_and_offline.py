"""Process-level guarantees: kill -9 mid-run leaves a usable index that the next run completes; no outbound traffic."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ingest.manifest import Manifest
from ingest.pipeline import IngestionPipeline
from ingest.progress import Phase, read_progress
from ingest.store import ChromaStore
from sourcier.layout import StoreLayout
from tests.conftest import FICHES, MODELS, REPO, copy_into, make_settings

pytestmark = pytest.mark.slow

FICHE_IDS = [
    "F1965",
    "F34779",
    "F1372",
    "F34809",
    "F35316",
    "F1177",
    "F1429",
    "F10449",
    "F31476",
    "F24570",
    "F31474",
    "F19224",
    "F14485",
    "F1608",
    "F34778",
    "F1633",
    "F17578",
    "F19450",
    "F2698",
    "F31001",
    "F12691",
    "F17059",
]


def subprocess_env(settings) -> dict[str, str]:
    return {
        **os.environ,
        "SOURCIER_CORPUS_DIR": str(settings.corpus_dir),
        "SOURCIER_STORE__PATH": str(settings.store.path),
        "SOURCIER_EMBEDDING__MODELS_DIR": str(MODELS),
    }


def test_kill_9_mid_ingestion_then_rerun_completes(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "etat-civil", *(FICHES / f"{fiche}.html" for fiche in FICHE_IDS))
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ingest", "--quiet"],
        cwd=REPO,
        env=subprocess_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    progress = None
    while time.monotonic() < deadline and process.poll() is None:
        progress = read_progress(StoreLayout(settings.store.path).progress)
        if progress and progress.phase == Phase.INDEXING and progress.files_done >= 1:
            break
        time.sleep(0.05)
    assert process.poll() is None, f"ingestion ended before it could be killed: {process.stderr.read()!r}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = progress.files_done

    # The index answers queries right away...
    with Manifest(settings.store) as manifest:
        recorded = manifest.documents(settings.store.collection)
    assert 0 < len(recorded) < len(FICHE_IDS)
    store = ChromaStore.open(settings.store, embedder.name)
    assert store.count() > 0
    assert store.query([embedder.embed_query("justificatif de domicile")], k=3)[0]

    # ...and the next run completes the work without redoing what was recorded.
    report = IngestionPipeline(settings, embedder=embedder).run()
    counts = report.counts
    assert counts["indexed"] + counts["unchanged"] == len(FICHE_IDS)
    assert counts["unchanged"] >= killed_at
    with Manifest(settings.store) as manifest:
        recorded = manifest.documents(settings.store.collection)
    held = store.versions()
    assert len(recorded) == len(FICHE_IDS) == len(held)
    for record in recorded.values():
        assert dict(held[record.doc_id]) == {record.indexed_hash: record.chunks}  # one version, complete
    assert store.count() == sum(record.chunks for record in recorded.values())


# Loaded by every Python process of the run (the ingestion, its reading worker and the worker's forkserver) through
# PYTHONPATH: each appends the connections and DNS lookups it attempts to its own file, as they happen.
AUDIT = r"""
import json, os, sys
_log = os.path.join(os.environ["SOURCIER_AUDIT_DIR"], f"{os.getpid()}.jsonl")
def _hook(event, args):
    if event == "socket.connect":
        address = args[1]
        entry = list(address) if isinstance(address, tuple) else str(address)
    elif event == "socket.getaddrinfo":
        entry = ["dns", str(args[0])]
    else:
        return
    with open(_log, "a") as handle:
        handle.write(json.dumps(entry) + "\n")
open(_log, "a").close()
sys.addaudithook(_hook)
"""


def test_ingestion_makes_no_outbound_connection(tmp_path, chroma_server):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    hook_dir, audit_dir = tmp_path / "hook", tmp_path / "audit"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT)
    env = subprocess_env(settings)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK", "ANONYMIZED_TELEMETRY"):
        env.pop(name, None)  # Sourcier must set these itself
    host, port = chroma_server
    for extra in ({}, {"SOURCIER_STORE__HOST": host, "SOURCIER_STORE__PORT": str(port)}):
        shutil.rmtree(audit_dir, ignore_errors=True)
        audit_dir.mkdir()
        completed = subprocess.run(
            [sys.executable, "-m", "ui.cli", "ingest", "--rebuild", "--quiet"],
            cwd=REPO,
            env={**env, **extra, "PYTHONPATH": str(hook_dir), "SOURCIER_AUDIT_DIR": str(audit_dir)},
            capture_output=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stderr.decode()[-2000:]
        logs = list(audit_dir.glob("*.jsonl"))
        assert len(logs) >= 3, "the ingestion, the worker's forkserver and the worker are all audited"
        connections = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
        outbound = [
            entry
            for entry in connections
            if isinstance(entry, list)
            and entry[0] not in {"127.0.0.1", "::1", "localhost"}
            and not (entry[0] == "dns" and entry[1] in {"127.0.0.1", "localhost", "::1"})
        ]
        assert outbound == [], f"outbound connections attempted: {outbound}"
    assert ["127.0.0.1", port] in connections  # the audit does see connections
