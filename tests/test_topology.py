"""A site's topology on loopback: a Chroma server, PostgreSQL, and two API replicas (`sourcier serve`, separate
processes) that share nothing else — each has a store folder of its own, empty but for what it caches. A question
answered by either gives the same sources; an ingestion started through replica 1 is seen by replica 2 at once
(its lexical index derived from the store), and replica 2 refuses a second ingestion meanwhile. The LLM is the
Ollama stand-in."""

import contextlib
import time

import httpx
import pytest

from ingest.pipeline import IngestionPipeline
from sourcier.api_keys import ApiKeys
from sourcier.settings import LLMBackendKind
from tests.conftest import HR_POLICY, HR_QUESTION, REPO, copy_into, make_settings
from tests.ollama_standin import OllamaStandIn
from tests.replicas import Replica

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path, embedder, postgresql, chroma_server):
    host, port = chroma_server
    settings = make_settings(tmp_path / "ingestion", host=host, port=port, collection="topologie")
    settings.corpus_dir = tmp_path / "corpus"  # the documents' shared folder
    settings.store.database_url = postgresql.database("topologie")
    copy_into(settings.corpus_dir, "elections", REPO / "corpus" / "elections" / "F1965.html")
    copy_into(settings.corpus_dir, "rh", REPO / "corpus" / "rh" / "F544.html")
    settings.access.policy = tmp_path / "acces.toml"
    settings.access.policy.write_text(HR_POLICY, encoding="utf-8")
    IngestionPipeline(settings, embedder=embedder).run()
    keys = ApiKeys.of(settings.store)
    secrets = {"agent": keys.add("agent", ["rh"])[1], "admin": keys.add("admin", ["dsi"])[1]}
    with contextlib.closing(OllamaStandIn(models=["qwen2.5:7b-instruct"])) as standin:
        replicas = []
        for number in (1, 2):
            own = settings.model_copy(deep=True)
            own.store.path = tmp_path / f"replica{number}"  # nothing shared through it
            own.llm.backend, own.llm.ollama_host = LLMBackendKind.OLLAMA, standin.url
            replicas.append(Replica(own, tmp_path / f"replica{number}.log"))
        try:
            for replica in replicas:
                replica.start()
            yield replicas, secrets, settings
        finally:
            for replica in replicas:
                replica.stop()


def search(replica: Replica, key: str, query: str) -> list[str]:
    response = httpx.post(
        f"{replica.url}/v1/search", json={"query": query}, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return [result["chunk_id"] for result in response.json()["results"]]


def test_two_replicas_share_one_index_and_follow_an_ingestion(site):
    (first, second), keys, settings = site
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    assert search(first, keys["agent"], HR_QUESTION) == search(second, keys["agent"], HR_QUESTION) != []
    answers = [
        httpx.post(f"{r.url}/v1/ask", json={"question": HR_QUESTION, "stream": False},
                   headers={"Authorization": f"Bearer {keys['agent']}"}, timeout=120).text
        for r in (first, second)
    ]  # fmt: skip
    assert all("event: answer" in a for a in answers)
    assert answers[0].split('"sources"')[1][:400] == answers[1].split('"sources"')[1][:400]

    (settings.corpus_dir / "elections" / "bureaux.md").write_text(
        "# Bureaux de vote\n\nLe bureau de vote de la salle des fêtes ferme à 19 heures les jours de scrutin.\n",
        encoding="utf-8",
    )
    assert httpx.post(f"{first.url}/v1/ingest", json={}, headers=admin).status_code == 202
    # The other replica knows an ingestion is running (the lock is in the database) and refuses a second one.
    deadline = time.monotonic() + 60
    while not httpx.get(f"{second.url}/v1/ingest/status", headers=admin).json()["running"]:
        assert time.monotonic() < deadline, "la seconde instance ne voit pas l'ingestion en cours"
        time.sleep(0.2)
    refused = httpx.post(f"{second.url}/v1/ingest", json={}, headers=admin)
    assert refused.status_code == 400 and "déjà en cours" in refused.json()["detail"]
    deadline = time.monotonic() + 300
    while httpx.get(f"{second.url}/v1/ingest/status", headers=admin).json()["running"]:
        assert time.monotonic() < deadline, "ingestion toujours en cours après 5 minutes"
        time.sleep(1)

    query = "À quelle heure ferme le bureau de vote de la salle des fêtes ?"
    seen_by_second = search(second, keys["agent"], query)
    assert seen_by_second == search(first, keys["agent"], query)
    documents = httpx.get(f"{second.url}/v1/documents", headers=admin).json()
    new = next(d for d in documents if d["path"] == "elections/bureaux.md")
    assert any(chunk.startswith(new["id"]) for chunk in seen_by_second), seen_by_second
    assert not (second.settings.store.path / "manifest.sqlite3").exists()  # the manifest is in PostgreSQL
