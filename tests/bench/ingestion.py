"""Ingestion benchmark (`make bench`): prints figures, asserts nothing.

For each data set: a full ingestion into a fresh index (files/s, pages/s, chunks/s); the same chunks through the
embedding model alone (the bound); their ratio (target ≥ 0.8); a second run with nothing changed and its ratio to the
first (target ≤ 3 %); peak memory of the process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import sourcier  # noqa: F401
from ingest.discover import discover
from ingest.embed import Embedder
from ingest.loaders import load
from ingest.pipeline import IngestionPipeline
from ingest.split import Splitter
from sourcier.errors import DocumentError
from sourcier.settings import EmbeddingRuntime, EmbeddingSettings, Settings, StoreSettings

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "corpora"
DATASETS = {
    "service-public (HTML)": SHARED / "service_public_fiches" / "html",
    "Putanges (PDF)": SHARED / "putanges_conseil_municipal" / "docs",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_copy(source: Path, target: Path, limit: int | None, suffixes: set[str]) -> int:
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in suffixes)[:limit]
    for file in files:
        destination = target / file.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)
    return len(files)


def bench(name: str, source: Path, embedder: Embedder, workdir: Path, limit: int | None) -> dict:
    corpus = workdir / "corpus"
    suffixes = {".html"} if "HTML" in name else {".pdf"}
    corpus_copy(source, corpus, limit, suffixes)
    settings = Settings(
        corpus_dir=corpus, store=StoreSettings(path=workdir / "vectorstore"), embedding=embedder.settings
    )
    pipeline = IngestionPipeline(settings, embedder=embedder)

    started = time.perf_counter()
    first = pipeline.run()
    full = time.perf_counter() - started
    pages = sum(f.pages or 1 for f in first.files)
    chunks = first.total_chunks

    # The bound: the same chunk texts through the model alone.
    splitter = Splitter(settings.chunking)
    texts = []
    for file in discover(corpus).files:
        with contextlib.suppress(DocumentError):
            texts += [c.embedding_text for c in splitter.run(file, load(file), "0" * 64)]
    started = time.perf_counter()
    embedder.embed_passages(texts)
    embedding_only = time.perf_counter() - started

    started = time.perf_counter()
    second = pipeline.run()
    unchanged = time.perf_counter() - started
    assert second.embedded_chunks == 0

    return {
        "dataset": name,
        "files": len(first.files),
        "pages": pages,
        "chunks": chunks,
        "full_s": round(full, 1),
        "files_per_s": round(len(first.files) / full, 2),
        "pages_per_s": round(pages / full, 2),
        "chunks_per_s": round(chunks / full, 2),
        "embedding_only_chunks_per_s": round(len(texts) / embedding_only, 2),
        "ratio_full_vs_embedding_only": round((chunks / full) / (len(texts) / embedding_only), 3),
        "unchanged_rerun_s": round(unchanged, 2),
        "ratio_unchanged_vs_full": round(unchanged / full, 4),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="at most N files per data set (default: all)")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/results/ingestion-RUNTIME.json")
    # One runtime per process: peak memory is the process's.
    parser.add_argument("--runtime", type=EmbeddingRuntime, choices=list(EmbeddingRuntime), default="torch")
    parser.add_argument("--dataset", choices=list(DATASETS), action="append", help="only these (default: all)")
    args = parser.parse_args()
    embedder = Embedder(EmbeddingSettings(models_dir=REPO / "models", runtime=args.runtime))
    print(f"embedding runtime: {args.runtime}")
    embedder.embed_passages(["échauffement"])  # model load is not ingestion
    results = []
    for name, source in DATASETS.items():
        if args.dataset and name not in args.dataset:
            continue
        if not source.is_dir():
            print(f"{name}: données absentes ({source}), ignoré")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            result = bench(name, source, embedder, Path(tmp), args.limit)
        results.append(result)
        print(json.dumps(result, ensure_ascii=False))
    print()
    header = f"{'data set':24} {'files':>6} {'pages':>6} {'chunks':>7} {'files/s':>8} {'pages/s':>8} {'chunks/s':>9}"
    header += f" {'embed-only/s':>13} {'ratio':>6} {'rerun s':>8} {'rerun %':>8} {'peak MB':>8}"
    print(header)
    for r in results:
        print(
            f"{r['dataset']:24} {r['files']:>6} {r['pages']:>6} {r['chunks']:>7} {r['files_per_s']:>8} "
            f"{r['pages_per_s']:>8} {r['chunks_per_s']:>9} {r['embedding_only_chunks_per_s']:>13} "
            f"{r['ratio_full_vs_embedding_only']:>6} {r['unchanged_rerun_s']:>8} "
            f"{100 * r['ratio_unchanged_vs_full']:>7.2f}% {r['peak_rss_mb']:>8}"
        )
    output = args.output or REPO / "bench" / "results" / f"ingestion-{args.runtime}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
