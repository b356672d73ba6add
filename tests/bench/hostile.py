"""Hostile-input benchmark (`make bench`): prints figures, asserts nothing.

The generated hostile suite (`tests/hostile_files.py`: bombs, scans, deep HTML, one-line files, 38 empty files…)
beside two real fiches, ingested into a fresh index with the real reading worker and the real embedding model.
Printed: wall time, and the peak memory of the ingestion — this process and its descendants (the forkserver, the
reading worker, Tesseract), as proportional set size so that pages a forked worker shares with its forkserver are
not counted twice. Target: under 3 GB with the default `ingest.parse_memory_mb` (2,500 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil

import sourcier  # noqa: F401
from ingest.embed import Embedder
from ingest.pipeline import IngestionPipeline
from sourcier.settings import EmbeddingSettings, Settings, StoreSettings
from tests.hostile_files import HOSTILE_LIMITS, build_hostile_corpus

REPO = Path(__file__).resolve().parents[2]


class PeakMemory:
    """Largest proportional set size of this process and all its descendants, sampled every `interval` s."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "hostile.json")
    args = parser.parse_args()
    embedder = Embedder(EmbeddingSettings(models_dir=REPO / "models"))
    embedder.embed_passages(["échauffement"])  # model load is not ingestion
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            corpus_dir=Path(tmp) / "corpus",
            store=StoreSettings(path=Path(tmp) / "vectorstore"),
            embedding=embedder.settings,
        )
        for name, value in HOSTILE_LIMITS.items():
            setattr(settings.ingest, name, value)
        build_hostile_corpus(settings.corpus_dir)
        started = time.perf_counter()
        with PeakMemory() as memory:
            report = IngestionPipeline(settings, embedder=embedder).run()
        elapsed = time.perf_counter() - started
    result = {
        "files": len(report.files),
        "chunks": report.total_chunks,
        "full_s": round(elapsed, 1),
        "peak_pss_mb": round(memory.peak / 1024**2),
        "parse_memory_mb": settings.ingest.parse_memory_mb,
    }
    print(json.dumps(result, ensure_ascii=False))
    print(f"hostile suite: {result['files']} files in {result['full_s']} s, peak memory {result['peak_pss_mb']} MB")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
