"""Learn how hybrid retrieval fuses its rankings, on the dev parts of the service-public and CDTN sets; measure on
their test parts and on sets never learnt on (the FAQ, Gennevilliers).

    python -m evaluation.fusion build/eval/servicepublic build/eval/cdtn [build/eval/faq build/eval/gennevilliers]

Candidates of both retrievers, and their documents ranked by opening passage (as the retriever ranks them), are
collected once per answerable question (cached in the set's `fusion_candidates-3.json`); each fusion is then scored
offline at the document level (MRR@10, recall@1 of the first gold document): reciprocal rank fusion of chunks with
a weight per retriever, plus the documents' ranking by their opening passage (`rag.retrieve.with_openings`). The
grid point with the best dev MRR@10 over both sets' questions is written to `rag/fusion_weights.json`; test parts
are only measured.
(A document-level term built from the chunks' own fused scores was tried first and won nothing on dev.)
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

from rag.retrieve import FUSION_FILE, Fusion, rank_by_opening, reciprocal_rank_fusion, with_openings

GRID = {"dense": [1.0, 1.5, 2.0, 3.0], "lexical": [1.0], "opening": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]}
CACHE = "fusion_candidates-3.json"  # -3: with the openings ranking (older caches lack it)


def collect(set_dir: Path, candidates: int = 30) -> list[dict]:
    os.environ["SOURCIER_CORPUS_DIR"] = str(set_dir / "corpus")
    os.environ["SOURCIER_STORE__PATH"] = str(set_dir / "vectorstore")
    from ingest.embed import Embedder
    from ingest.live import LiveIndex
    from sourcier.access import Reader
    from sourcier.settings import Settings

    settings = Settings()
    index, embedder = LiveIndex.open(settings, reader=Reader.system("évaluation")), Embedder(settings.embedding)
    cases = [json.loads(line) for line in (set_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = []
    for case in (c for c in cases if c.get("gold_docs")):
        query = embedder.embed_query(case["question"])
        dense = index.nearest([query], candidates)[0]
        lexical = [chunk_id for chunk_id, _ in index.lexical_search(case["question"], candidates)]
        source = {hit.id: hit.metadata["source"] for hit in dense}
        source.update({c.id: c.metadata["source"] for c in index.get([i for i in lexical if i not in source])})
        document_of, by_opening = rank_by_opening(index, source, query)
        path_of = {document_of[chunk_id]: path for chunk_id, path in source.items()}
        rows.append(
            {
                "part": case.get("part", "test"),
                "gold": case["gold_docs"],
                "dense": [hit.id for hit in dense],
                "lexical": [i for i in lexical if i in source],
                "source": source,
                "by_opening": [path_of[document] for document in by_opening],
            }
        )
    return rows


def score(rows: list[dict], fusion: Fusion) -> dict:
    reciprocal, first = [], []
    for row in rows:
        fused = reciprocal_rank_fusion([row["dense"], row["lexical"]], weights=[fusion.dense, fusion.lexical])
        if fusion.opening:
            fused = with_openings(fused, row["source"], row["by_opening"], fusion.opening)
        documents = list(dict.fromkeys(row["source"][chunk_id] for chunk_id in fused))[:10]
        rank = next((i for i, path in enumerate(documents, start=1) if path in row["gold"]), None)
        reciprocal.append(1 / rank if rank else 0.0)
        first.append(rank == 1)
    return {"mrr@10": round(sum(reciprocal) / len(rows), 3), "recall@1": round(sum(first) / len(rows), 3)}


def main(argv: list[str]) -> int:
    per_set = {}
    for set_dir in map(Path, argv):
        cache = set_dir / CACHE
        if not cache.exists():
            cache.write_text(json.dumps(collect(set_dir)), encoding="utf-8")
        per_set[set_dir.name] = json.loads(cache.read_text(encoding="utf-8"))
    dev = [row for rows in per_set.values() for row in rows if row["part"] == "dev"]
    grid = [Fusion(*values) for values in itertools.product(*GRID.values())]
    best = max(grid, key=lambda f: (score(dev, f)["mrr@10"], score(dev, f)["recall@1"]))
    print(f"learned on {len(dev)} dev questions: {best}")
    compared = [("dense alone", Fusion(1.0, 0.0)), ("BM25 alone", Fusion(0.0, 1.0)), ("RRF 1:1", Fusion())]
    for name, rows in per_set.items():
        for part in ("dev", "test"):
            picked = [row for row in rows if row["part"] == part]
            if picked:
                print(f"{name}, {part} ({len(picked)} questions)")
                for label, fusion in [*compared, ("learned", best)]:
                    print(f"  {label:<12} {score(picked, fusion)}")
    FUSION_FILE.write_text(json.dumps(best.__dict__, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
