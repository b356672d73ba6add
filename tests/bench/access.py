"""Access-policy benchmark (`make bench`): prints figures, asserts nothing.

A policy change is applied to the index's metadata (`sourcier access apply`: relabel the chunks whose groups
change, refresh the lexical index's copy) instead of re-ingesting. Measured on the demo corpus's fiches (real parser,
real e5 model, embedded Chroma): the time of a full re-ingestion (`--rebuild`) vs the time of applying a policy that
changes the groups of every document.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import sourcier  # noqa: F401
from ingest.access import label_chunks
from ingest.lexical import LexicalIndex
from ingest.live import read_live_documents
from ingest.pipeline import IngestionPipeline
from ingest.store import ChromaStore
from sourcier.access import AccessPolicy
from sourcier.layout import StoreLayout
from sourcier.models.embedding import embedding_model_id
from sourcier.settings import EmbeddingSettings, Settings, StoreSettings

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["associations", "cimetiere", "elections", "enfance", "etat-civil", "rh", "urbanisme"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for service in SERVICES:
            shutil.copytree(REPO / "corpus" / service, root / "corpus" / service)
        policy_file = root / "acces.toml"
        policy_file.write_text("[services]\n" + "".join(f'{s} = ["tous"]\n' for s in SERVICES), encoding="utf-8")
        settings = Settings(
            corpus_dir=root / "corpus",
            store=StoreSettings(path=root / "vectorstore"),
            embedding=EmbeddingSettings(models_dir=REPO / "models"),
        )
        settings.access.policy = policy_file
        pipeline = IngestionPipeline(settings)
        pipeline.run()
        started = time.perf_counter()
        report = pipeline.run(rebuild=True)
        ingestion_s = time.perf_counter() - started

        changed = AccessPolicy.from_dict({"services": {s: [s] for s in SERVICES}})  # every document changes
        layout = StoreLayout(settings.store.path)
        started = time.perf_counter()
        collection = read_live_documents(settings).collection
        store = ChromaStore.open(settings.store, embedding_model_id(settings.embedding), collection)
        relabelled = label_chunks(store, changed, settings.corpus_dir)
        LexicalIndex.sync(layout.lexical(collection), store)
        apply_s = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "documents": len(report.files),
                    "chunks": report.total_chunks,
                    "reingestion_s": round(ingestion_s, 1),
                    "access_apply_s": round(apply_s, 2),
                    "relabelled_chunks": relabelled.chunks,
                    "apply_vs_reingestion": round(apply_s / ingestion_s, 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
