"""The live index scopes every read, and hybrid retrieval fuses what it returns (fast tier: test doubles)."""

import pytest

from rag.retrieve import Fusion, HybridRetriever
from sourcier.settings import RetrievalMode
from tests.fakes import HashingEmbedder
from tests.unit.indexes import build, doc_id, exclude

EMBEDDER = HashingEmbedder()


@pytest.fixture
def live(tmp_path):
    return build(tmp_path, EMBEDDER)


def test_reads_see_everything_until_an_exclusion(live):
    settings, index, store = live
    assert index.count() == store.count() == 5
    assert index.counts_per_document()[doc_id("elections", "liste")] == 2
    assert index.scope() is None


def test_an_exclusion_applies_to_every_read_at_once(live):
    settings, index, _ = live
    excluded = doc_id("elections", "liste")
    exclude(settings, "elections", "liste")  # no reopening: the scope is read at each call
    query = "justificatif de domicile pour la liste électorale"
    (dense,) = index.nearest([EMBEDDER.embed_query(query)], k=10)
    assert dense and excluded not in {hit.metadata["doc_id"] for hit in dense}
    assert all(not chunk_id.startswith(excluded) for chunk_id, _ in index.lexical_search(query, 10))
    assert index.get([f"{excluded}:v1:0000", f"{doc_id('urbanisme', 'permis')}:v1:0000"])[0].metadata[
        "doc_id"
    ] == doc_id("urbanisme", "permis")
    assert len(index.get([f"{excluded}:v1:0000"])) == 0
    assert excluded not in {chunk.metadata["doc_id"] for chunk in index.chunks()}
    assert excluded not in index.counts_per_document() and index.count() == 3


def test_a_caller_filter_is_anded_with_the_scope(live):
    settings, index, _ = live
    exclude(settings, "etat-civil", "mariage")
    (hits,) = index.nearest([EMBEDDER.embed_query("acte de naissance")], k=10, where={"service": "etat-civil"})
    assert hits == []


@pytest.mark.parametrize("mode", list(RetrievalMode))
def test_each_retrieval_mode_finds_the_passage_and_respects_filters(live, mode):
    _, index, _ = live
    retriever = HybridRetriever(index=index, embedder=EMBEDDER, k=3, mode=mode)
    best = retriever.invoke("Quel justificatif de domicile pour la liste électorale ?")
    assert best[0].metadata["doc_id"] == doc_id("elections", "liste")
    filtered = retriever.invoke("justificatif de domicile liste électorale", where={"service": "urbanisme"})
    assert {d.metadata["service"] for d in filtered} <= {"urbanisme"}


def test_hybrid_results_carry_both_scores_when_both_retrievers_agree(live):
    _, index, _ = live
    retriever = HybridRetriever(index=index, embedder=EMBEDDER, k=2)
    (first, _) = retriever.invoke("permis de construire construction surface")
    assert first.metadata["doc_id"] == doc_id("urbanisme", "permis")
    assert first.metadata["dense_score"] > 0 and first.metadata["bm25_score"] > 0
    fusion = Fusion.shipped()  # rank 1 in both, and its document's opening first: each weight / (60 + 1)
    assert first.metadata["score"] == pytest.approx((fusion.dense + fusion.lexical + fusion.opening) / 61, abs=1e-4)
