"""Quality-report benchmark (`make bench`): time to build the report over an ingested corpus, and its ratio to the
time that ingestion took (target ≤ 2×), for the service-public fiches and the CGCT articles (7,472 files).

`--limit N` takes the first N files of each set (default 300: ingesting all 7,472 CGCT articles takes ~1 h on 2
cores); the report's candidate search is near-linear (LSH buckets, k nearest neighbours per chunk), so the ratio
holds as the corpus grows — the second run at twice the size shows it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import sourcier  # noqa: F401
from ingest.embed import Embedder
from ingest.pipeline import IngestionPipeline
from quality.report import build_report
from sourcier.settings import EmbeddingSettings, Settings, StoreSettings
from tests.bench.ingestion import REPO, SHARED, corpus_copy

DATASETS = {
    "service-public (HTML)": (SHARED / "service_public_fiches" / "html", {".html"}),
    "CGCT (Markdown)": (SHARED / "cgct_markdown" / "code-general-des-collectivites-territoriales", {".md"}),
}


def bench(name: str, source: Path, suffixes: set[str], embedder: Embedder, limit: int) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        files = corpus_copy(source, work / "corpus", limit, suffixes)
        settings = Settings(
            corpus_dir=work / "corpus", store=StoreSettings(path=work / "vectorstore"), embedding=embedder.settings
        )
        started = time.perf_counter()
        ingestion = IngestionPipeline(settings, embedder=embedder).run()
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(settings, embedder)
        report_s = time.perf_counter() - started
        started = time.perf_counter()
        build_report(settings, embedder)  # unchanged corpus: per-document results come from the cache
        again_s = time.perf_counter() - started
    return {
        "dataset": name,
        "files": files,
        "chunks": ingestion.total_chunks,
        "ingestion_s": round(ingest_s, 1),
        "report_s": round(report_s, 2),
        "ratio_report_to_ingestion": round(report_s / ingest_s, 3),
        "unchanged_report_s": round(again_s, 2),
        "findings": report.counts()["by_type"],
        "steps_s": report.timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    embedder = Embedder(EmbeddingSettings(models_dir=REPO / "models"))
    for name, (source, suffixes) in DATASETS.items():
        for limit in (args.limit, 2 * args.limit):
            print(json.dumps(bench(name, source, suffixes, embedder, limit), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
