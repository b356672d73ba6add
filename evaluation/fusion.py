"""Learn how hybrid retrieval fuses its two rankings, on the dev part of the service-public set; measure on the test.

    python -m evaluation.fusion build/eval/servicepublic

Candidates of both retrievers are collected once per answerable question; each fusion is then scored offline at
the document level (MRR@10, recall@1 of the gold fiche): reciprocal rank fusion of chunks with a weight per
retriever. The grid point with the best dev MRR@10 is written to `rag/fusion_weights.json`; the test part is only
measured. (A document-level term — the same fusion over documents, added to each chunk's score — was tried on this
grid and won nothing on dev; it was removed.)
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

from rag.retrieve import FUSION_FILE, Fusion, reciprocal_rank_fusion

GRID = {"dense": [1.0, 1.5, 2.0, 3.0], "lexical": [1.0]}


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
        dense = index.nearest([embedder.embed_query(case["question"])], candidates)[0]
        lexical = [chunk_id for chunk_id, _ in index.lexical_search(case["question"], candidates)]
        source = {hit.id: hit.metadata["source"] for hit in dense}
        source.update({c.id: c.metadata["source"] for c in index.get([i for i in lexical if i not in source])})
        rows.append(
            {
                "part": case["part"],
                "gold": case["gold_docs"],
                "dense": [hit.id for hit in dense],
                "lexical": [i for i in lexical if i in source],
                "source": source,
            }
        )
    return rows


def score(rows: list[dict], fusion: Fusion) -> dict:
    reciprocal, first = [], []
    for row in rows:
        fused = reciprocal_rank_fusion([row["dense"], row["lexical"]], weights=[fusion.dense, fusion.lexical])
        documents = list(dict.fromkeys(row["source"][chunk_id] for chunk_id in fused))[:10]
        rank = next((i for i, path in enumerate(documents, start=1) if path in row["gold"]), None)
        reciprocal.append(1 / rank if rank else 0.0)
        first.append(rank == 1)
    return {"mrr@10": round(sum(reciprocal) / len(rows), 3), "recall@1": round(sum(first) / len(rows), 3)}


def main(argv: list[str]) -> int:
    set_dir = Path(argv[0])
    cache = set_dir / "fusion_candidates.json"
    if not cache.exists():
        cache.write_text(json.dumps(collect(set_dir)), encoding="utf-8")
    rows = json.loads(cache.read_text(encoding="utf-8"))
    dev, test = [r for r in rows if r["part"] == "dev"], [r for r in rows if r["part"] == "test"]
    print(f"{len(dev)} dev and {len(test)} test questions")
    dense_only, lexical_only = Fusion(1.0, 0.0), Fusion(0.0, 1.0)
    for name, fusion in [("dense alone", dense_only), ("BM25 alone", lexical_only), ("RRF 1:1", Fusion())]:
        print(f"  {name:<14} dev {score(dev, fusion)}  test {score(test, fusion)}")
    grid = [Fusion(*values) for values in itertools.product(*GRID.values())]
    best = max(grid, key=lambda f: (score(dev, f)["mrr@10"], score(dev, f)["recall@1"]))
    print(f"  learned {best}: dev {score(dev, best)}  test {score(test, best)}")
    FUSION_FILE.write_text(json.dumps(best.__dict__, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
