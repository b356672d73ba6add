"""Retrieval and answer-latency benchmark (`make bench`): prints figures, asserts nothing.

1. Hybrid retrieval through the live index (dense + BM25 + fusion, scoped reads) vs a raw query of the Chroma
   store of the same k (query embedding included in both), p50/p95 over real French questions, at 10k and 100k
   chunks; and the same hybrid retrieval for an agent whose groups narrow every read (the access filter) vs an
   admin's, unfiltered (chunks belong to ten services with different groups, so the filter is selective). Chunk
   texts are the CGCT and Labour Code articles (../shared/corpora), repeated to reach the size. Their
   vectors are random unit vectors: embedding 100k chunks takes ~4 h on 2 cores, and an HNSW query's latency depends
   on the collection's size and dimension, not on what the vectors mean. BM25 runs on the real texts.
2. Time to first token of a full answer (retrieval + prompt + generation) vs the embedded LLM server alone for the
   same prompt.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import sourcier  # noqa: F401
from ingest.documents import Chunk
from ingest.embed import Embedder
from ingest.lexical import LexicalIndex
from ingest.live import LiveIndex
from ingest.store import ChromaStore
from rag.retrieve import HybridRetriever
from sourcier.access import AccessPolicy, Reader
from sourcier.french import content_terms
from sourcier.layout import StoreLayout
from sourcier.settings import EmbeddingSettings, StoreSettings

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "corpora"
SERVICES = ["rh", "etat-civil", "urbanisme", "elections", "ccas", "police", "finances", "enfance", "cimetiere", "dsi"]
POLICY = AccessPolicy.from_dict(
    {
        "services": {
            "rh": ["rh", "dgs"], "etat-civil": ["etat-civil"], "urbanisme": ["tous"], "elections": ["tous"],
            "police": ["police"], "finances": ["finances", "dgs"], "enfance": ["tous"], "cimetiere": ["tous"],
        },  # ccas and dsi: admins only
        "referents": {"rh": ["rh-referents"]},
    }
)  # fmt: skip
ADMIN = Reader.system()
AGENT = POLICY.reader("agent", ["etat-civil"])  # reads 5 services of 10


def article_texts(limit_chars: int = 1000) -> list[str]:
    texts = []
    for file in sorted((SHARED / "cgct_markdown").rglob("*.md")):
        text = file.read_text(encoding="utf-8")
        texts += [
            text[i : i + limit_chars] for i in range(0, len(text), limit_chars) if text[i : i + limit_chars].strip()
        ]
    with (SHARED / "cdtn_code_du_travail_numerique" / "corpus" / "code_du_travail_articles.jsonl").open() as lines:
        for line in lines:
            text = json.loads(line).get("texte") or ""
            texts += [
                text[i : i + limit_chars] for i in range(0, len(text), limit_chars) if text[i : i + limit_chars].strip()
            ]
    return texts


def questions() -> list[str]:
    golden = json.loads((SHARED / "faq_collectivite_golden" / "golden_set.json").read_text())["golden_set"]
    extra = [
        "Quelle est la durée légale du travail effectif ?",
        "Combien de jours de congés payés par an ?",
        "Qui convoque le conseil municipal ?",
        "Quel délai pour contester une délibération ?",
        "Comment le maire délègue-t-il sa signature ?",
        "Quelles sont les indemnités des élus locaux ?",
        "Quand le préavis de démission commence-t-il ?",
        "Qu'est-ce que la période d'essai ?",
    ]
    return [item["question"] for item in golden] + extra


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def retrieval_bench(size: int, texts: list[str], embedder: Embedder, workdir: Path) -> dict:
    store = ChromaStore.open(StoreSettings(path=workdir), embedder.name, f"bench{size}")
    rng = np.random.default_rng(0)
    entries = {}
    chunks = []
    for i in range(size):
        text = texts[i % len(texts)]
        chunk_id = f"c{i}"
        service = SERVICES[(i // 4) % len(SERVICES)]
        metadata = {
            "doc_id": f"d{i // 4}",
            "source": f"{service}/{i // 4}.md",
            "service": service,
            "access": POLICY.document_groups(f"{service}/{i // 4}.md"),
            "title": f"Article {i // 4}",
            "version": "v",
            "chunk_index": i % 4,
        }
        chunks.append(Chunk(id=chunk_id, text=text, embedding_text=text, metadata=metadata))
        entries[chunk_id] = (content_terms(text), metadata)
    started = time.perf_counter()
    for start in range(0, size, 2000):
        vectors = rng.normal(size=(len(chunks[start : start + 2000]), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert(chunks[start : start + 2000], vectors)
    load_s = time.perf_counter() - started
    layout = StoreLayout(workdir)
    LexicalIndex(entries).save(layout.lexical(store.name))
    retriever = HybridRetriever(index=LiveIndex(StoreSettings(path=workdir), store.name, store), embedder=embedder, k=6)
    raw_times, hybrid_times, filtered_times = [], [], []
    for question in questions():
        started = time.perf_counter()
        store.query([embedder.embed_query(question)], k=6)
        raw_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        retriever.invoke(question, reader=ADMIN)
        hybrid_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = retriever.invoke(question, reader=AGENT)
        filtered_times.append(time.perf_counter() - started)
        assert all(AGENT.may_read(d.metadata["access"]) for d in found)
    return {
        "chunks": size,
        "load_s": round(load_s, 1),
        "raw_p50_ms": round(1000 * statistics.median(raw_times), 1),
        "raw_p95_ms": round(1000 * percentile(raw_times, 0.95), 1),
        "hybrid_p50_ms": round(1000 * statistics.median(hybrid_times), 1),
        "hybrid_p95_ms": round(1000 * percentile(hybrid_times, 0.95), 1),
        "ratio_p95": round(percentile(hybrid_times, 0.95) / percentile(raw_times, 0.95), 2),
        "filtered_p50_ms": round(1000 * statistics.median(filtered_times), 1),
        "filtered_p95_ms": round(1000 * percentile(filtered_times, 0.95), 1),
        "access_filter_ratio_p95": round(percentile(filtered_times, 0.95) / percentile(hybrid_times, 0.95), 2),
    }


def ttft_bench(embedder: Embedder, runs: int) -> dict:
    """Time to first useful content and first token of whole answers, with llama.cpp's prompt cache (the fixed
    system prompt is not recomputed between questions) and without. Needs an ingested demo corpus (`make ingest`);
    starts the embedded LLM server."""
    from rag.chain import Answerer
    from rag.llm import Backend, make_backend
    from sourcier.settings import load_settings

    settings = load_settings()
    live = make_backend(settings)
    uncached = Backend(
        live.name, live.model, live.chat.model_copy(update={"extra_body": {"cache_prompt": False}}), live.count_tokens
    )
    # Different questions in turn: with the cache on, only the constant prefix (system prompt) is reused.
    questions = [
        "Quel justificatif de domicile pour s'inscrire sur la liste électorale ?",
        "Combien de temps dure une concession funéraire ?",
        "Comment sont calculés les jours de RTT dans la fonction publique ?",
        "Quels documents faut-il pour une carte d'identité ?",
        "Qui peut demander une aide au logement ?",
    ][:runs]
    figures: dict = {"backend": live.label, "answers": len(questions)}
    for label, backend in (("no_cache", uncached), ("prefix_cache", live)):
        answerer = Answerer.from_settings(settings, embedder=embedder, backend=backend)
        answers = [answerer.ask(question, reader=ADMIN) for question in questions]
        useful = [a.first_useful_s for a in answers if a.first_useful_s is not None]
        tokens = [a.first_token_s for a in answers if a.first_token_s is not None]
        figures[f"{label}_first_useful_s"] = round(statistics.median(useful), 2) if useful else None
        figures[f"{label}_first_token_p50_s"] = round(statistics.median(tokens), 2) if tokens else None
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--ttft-runs", type=int, default=5, help="0 to skip the LLM part")
    args = parser.parse_args()
    embedder = Embedder(EmbeddingSettings(models_dir=REPO / "models"))
    embedder.embed_query("échauffement")
    texts = article_texts()
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(retrieval_bench(size, texts, embedder, Path(tmp))), flush=True)
    if args.ttft_runs:
        print(json.dumps(ttft_bench(embedder, args.ttft_runs), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
