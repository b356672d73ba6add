"""Process-level guarantees: kill -9 mid-run leaves a usable index that the next run completes; no outbound traffic."""

import json
import os
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

pytestmark = [pytest.mark.shared, pytest.mark.slow]

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
    with Manifest(StoreLayout(settings.store.path).manifest) as manifest:
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
    with Manifest(StoreLayout(settings.store.path).manifest) as manifest:
        recorded = manifest.documents(settings.store.collection)
    held = store.versions()
    assert len(recorded) == len(FICHE_IDS) == len(held)
    for record in recorded.values():
        assert dict(held[record.doc_id]) == {record.indexed_hash: record.chunks}  # one version, complete
    assert store.count() == sum(record.chunks for record in recorded.values())


AUDIT = r"""
import json, socket, sys
seen = []
def hook(event, args):
    if event == "socket.connect":
        address = args[1]
        seen.append(list(address) if isinstance(address, tuple) else str(address))
    elif event == "socket.getaddrinfo":
        seen.append(["dns", str(args[0])])
sys.addaudithook(hook)
from ui.cli import main
code = main(["ingest", "--quiet"])
json.dump({"code": code, "connections": seen}, open(sys.argv[1], "w"))
"""


def test_ingestion_makes_no_outbound_connection(tmp_path, chroma_server):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    result_file = tmp_path / "audit.json"
    env = subprocess_env(settings)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK", "ANONYMIZED_TELEMETRY"):
        env.pop(name, None)  # Sourcier must set these itself
    host, port = chroma_server
    for extra in ({}, {"SOURCIER_STORE__HOST": host, "SOURCIER_STORE__PORT": str(port)}):
        subprocess.run(
            [sys.executable, "-c", AUDIT, str(result_file)],
            cwd=REPO,
            env={**env, **extra},
            check=True,
            capture_output=True,
            timeout=600,
        )
        result = json.loads(result_file.read_text())
        assert result["code"] == 0
        outbound = [
            entry
            for entry in result["connections"]
            if isinstance(entry, list)
            and entry[0] not in {"127.0.0.1", "::1", "localhost"}
            and not (entry[0] == "dns" and entry[1] in {"127.0.0.1", "localhost", "::1"})
        ]
        assert outbound == [], f"outbound connections attempted: {outbound}"
    assert ["127.0.0.1", port] in result["connections"]  # the audit does see connections
