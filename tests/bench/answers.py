"""Answer speed benchmark (`make bench`): time to the first useful content (the extracts) and to the first token of
the generated answer, on 20 answerable dev questions (10 of the FAQ set, 10 of Gennevilliers), with a fresh embedded
server (no prompt cached from an earlier run). Prints figures, asserts nothing.

Needs the sets' indexes: `make eval SETS="faq gennevilliers"` builds them in build/eval/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import sourcier  # noqa: F401
from rag.chain import Answer, Answerer, Found
from rag.evaluate import read_cases, spread
from rag.prompts import ABSTENTION
from sourcier.access import Reader
from sourcier.settings import LLMBackendKind, Settings

REPO = Path(__file__).resolve().parents[2]
READER = Reader.system("banc d'essai")


def first_times(answerer: Answerer, question: str) -> tuple[float | None, float | None]:
    """Seconds to the extracts and to the first word of the answer (None when it refused); the generation is
    stopped there."""
    started = time.perf_counter()
    useful = None
    stream = answerer.stream(question, reader=READER)
    try:
        for event in stream:
            if isinstance(event, Found):
                useful = time.perf_counter() - started
            elif isinstance(event, Answer) or (isinstance(event, str) and ABSTENTION in event):
                return useful, None
            elif isinstance(event, str) and event.strip() and not event.startswith("Les documents"):
                return useful, time.perf_counter() - started
    finally:
        stream.close()
    return useful, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=REPO / "build" / "eval")
    parser.add_argument("--per-set", type=int, default=10)
    args = parser.parse_args()
    useful, tokens = [], []
    for name in ("faq", "gennevilliers"):
        folder = args.eval_dir / name
        if not (folder / "vectorstore").is_dir():
            print(f'{name} : index absent ({folder}) — lancez d\'abord make eval SETS="faq gennevilliers"')
            return
        settings = Settings(corpus_dir=folder / "corpus")
        settings.store.path = folder / "vectorstore"
        settings.embedding.models_dir = REPO / "models"
        settings.llm.backend = LLMBackendKind(os.environ.get("SOURCIER_LLM__BACKEND", "embedded"))
        answerer = Answerer.from_settings(settings)
        _ = answerer.backend  # started (and its fixed prefix computed) as the app does when it opens
        answerer.retriever.invoke("échauffement", reader=READER)  # model and BM25 loaded
        cases = [c for c in read_cases(folder / "questions.jsonl") if not c.expect_abstain]
        for case in spread(cases, args.per_set):
            extracts_s, token_s = first_times(answerer, case.question)
            if extracts_s is not None:
                useful.append(extracts_s)
            if token_s is not None:
                tokens.append(token_s)
            print(f"{name}: {token_s and round(token_s, 1)} s — {case.question}", flush=True)
    twentieth = statistics.quantiles(tokens, n=20) if len(tokens) > 1 else tokens
    print(
        json.dumps(
            {
                "questions": len(useful),
                "answered": len(tokens),
                "first_useful_p50_s": round(statistics.median(useful), 3),
                "first_useful_p95_s": round(statistics.quantiles(useful, n=20)[18], 3),
                "first_token_p50_s": round(statistics.median(tokens), 2),
                "first_token_p95_s": round(twentieth[-1], 2),
                "backend": answerer.backend.label,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
