"""A randomized leak test of access control, on real components: the demo corpus's fiches ingested by the real
pipeline (real parser, real e5 model) into embedded Chroma and into a `chroma run` server, read through the real
answering chain with a stand-in LLM that records every prompt.

Queries are made from the text of documents the user may not read — the queries most likely to pull them — for
random users and group sets, follow-ups included. No chunk of a forbidden document may appear in what is retrieved,
in the prompt the LLM receives, in the closest documents listed when the assistant abstains, in the quality
report's rows, or among the files the user may download. What the user may read is decided here from the policy
alone (the expected truth), never by asking the index under test.
"""

from __future__ import annotations

import random
import re

import pytest

from ingest.live import LiveIndex
from ingest.pipeline import IngestionPipeline
from quality.report import build_report
from rag.chain import Answerer
from sourcier.access import AccessPolicy, Reader
from tests.conftest import FICHES, REPO, copy_into, make_settings
from tests.fakes import scripted_backend

pytestmark = pytest.mark.slow

POLICY_TEXT = """
everyone = "tous"
admins = ["dsi"]
[services]
elections = ["tous"]
urbanisme = ["tous"]
cimetiere = ["tous"]
etat-civil = ["etat-civil", "dgs"]
rh = ["rh", "dgs"]
[referents]
rh = ["rh-referents"]
etat-civil = ["etat-civil-referents"]
[documents]
"urbanisme/F1633.html" = ["urbanisme"]
"""
# ccas (social files) is listed nowhere: admins only. One HR document is opened to everyone by its sidecar.
SERVICES = {
    "elections": ["F1965.html", "F1372.html"],
    "urbanisme": ["F1633.html", "F17578.html"],
    "cimetiere": ["F12691.html"],
    "etat-civil": ["F1429.html", "F1431.html", "F10449.html"],
    "rh": ["F10252.html", "F13117.html", "F488.html", "F544.html"],
    "ccas": [],
}
CCAS = ["F32057.html", "F18360.html", "F3079.html"]  # social aid fiches, standing for the CCAS's files
GROUPS = ["etat-civil", "rh", "dgs", "urbanisme", "rh-referents", "etat-civil-referents", "sports"]
QUERIES = 500  # per store: 1,000 in all
REPLY = "Selon les documents, la démarche se fait en mairie [1]."


def build_corpus(settings) -> AccessPolicy:
    for service, names in SERVICES.items():
        copy_into(settings.corpus_dir, service, *(REPO / "corpus" / service / name for name in names))
    copy_into(settings.corpus_dir, "ccas", *(FICHES / name for name in CCAS))
    (settings.corpus_dir / "rh" / "F10252.html.acces.toml").write_text('groupes = ["tous"]\n', encoding="utf-8")
    policy_file = settings.store.path.parent / "acces.toml"
    policy_file.write_text(POLICY_TEXT, encoding="utf-8")
    settings.access.policy = policy_file
    return AccessPolicy.load(policy_file)


@pytest.fixture(scope="module", params=["embedded", "server"])
def indexed(request, tmp_path_factory, embedder):
    tmp_path = tmp_path_factory.mktemp(f"leaks-{request.param}")
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")
        settings = make_settings(tmp_path, host=host, port=port, collection=f"leaks-{port}")
    else:
        settings = make_settings(tmp_path)
    policy = build_corpus(settings)
    IngestionPipeline(settings, embedder=embedder).run()
    return settings, policy


def random_reader(rng: random.Random, policy: AccessPolicy, number: int) -> Reader:
    groups = rng.sample(GROUPS, rng.randint(0, 3))
    return policy.reader(f"agent{number}@mairie.fr", groups)


def test_no_forbidden_chunk_reaches_any_user(indexed, embedder):
    settings, policy = indexed
    index = LiveIndex.open(settings)
    everything = list(index.for_reader(Reader.system()).chunks())
    sources = {c.metadata["source"] for c in everything}
    assert len(sources) == sum(map(len, SERVICES.values())) + len(CCAS)
    groups_of = {path: policy.document_groups(path, settings.corpus_dir) for path in sources}
    assert groups_of["ccas/F32057.html"] == ["@admins"] and "tous" in groups_of["rh/F10252.html"]

    backend = scripted_backend(REPLY)
    answerer = Answerer.from_settings(settings, embedder=embedder, backend=backend, index=index)
    report = build_report(settings, embedder)
    rng = random.Random(20261204)
    tried = leaks = abstentions = follow_ups = 0
    readers_seen = set()
    while tried < QUERIES:
        reader = random_reader(rng, policy, tried % 40)
        allowed = {path for path, groups in groups_of.items() if reader.may_read(groups)}
        forbidden_chunks = [c for c in everything if c.metadata["source"] not in allowed]
        if not forbidden_chunks:
            continue
        readers_seen.add(frozenset(reader.groups))
        chunk = rng.choice(forbidden_chunks)
        words = chunk.text.split()
        start = rng.randrange(max(1, len(words) - 12))
        query = " ".join(words[start : start + rng.randint(6, 14)])
        history: list[tuple[str, str]] = []
        if rng.random() < 0.3:  # a follow-up: the forbidden text is the topic carried from the previous turn
            history, query = [(query + " ?", "Je ne sais pas.")], "Et dans ce cas, que faut-il faire ?"
            follow_ups += 1
        backend.chat.prompts.clear()
        answer = answerer.ask(query, history, reader=reader)
        tried += 1
        abstentions += answer.abstained
        shown = {source.path for source in answer.sources}  # the closest documents too, when it abstains
        prompt = " ".join(str(m.content) for messages in backend.chat.prompts for m in messages)
        prompt = _normal(prompt)
        for asked in [query, *(question for question, _ in history)]:  # the user's own words are theirs to send
            prompt = prompt.replace(_normal(asked), " ")
        in_prompt = {c.metadata["source"] for c in forbidden_chunks if _normal(c.text)[:60] in prompt}
        view = index.for_reader(reader)
        downloadable = {path for path in rng.sample(sorted(sources - allowed), min(3, len(sources - allowed)))
                        if view.may_read_document(path)}  # fmt: skip
        visible = {
            p.path
            for f in report.for_reader(reader, view.may_read_document).findings
            for p in f.places
            if "/" in p.path
        }
        leaked = {
            "sources": shown - allowed, "prompt": in_prompt, "downloads": downloadable, "report": visible - allowed
        }  # fmt: skip
        if any(leaked.values()):
            leaks += 1
            pytest.fail(f"{reader.label} {sorted(reader.groups)} a reçu {leaked} pour « {query} »")
    assert tried == QUERIES and leaks == 0
    assert follow_ups > 100 and len(readers_seen) > 30
    # The test can fail: the same queries, read by an admin, do pull the forbidden documents.
    target = next(c for c in everything if c.metadata["source"] == "ccas/F32057.html")
    backend.chat.prompts.clear()
    pulled = answerer.ask(" ".join(target.text.split()[:14]), reader=Reader.system())
    assert target.metadata["source"] in {s.path for s in pulled.sources}
    assert _normal(target.text)[:60] in _normal(" ".join(str(m.content) for p in backend.chat.prompts for m in p))
    print(f"\n{tried} requêtes, {follow_ups} relances, {abstentions} abstentions, "
          f"{len(readers_seen)} jeux de groupes : {leaks} fuite")  # fmt: skip


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
