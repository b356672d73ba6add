"""Who may read what (fast tier): the policy, the roles, and the live index enforcing them on every read."""

import pytest
from sqlalchemy import text

from ingest.access import label_chunks
from ingest.lexical import LexicalIndex
from quality.report import report_for_reader
from rag.retrieve import HybridRetriever
from sourcier.access import ADMINS_ONLY, AccessPolicy, Reader, Role
from sourcier.accounts import Accounts, SignInThrottle
from sourcier.errors import AccessDeniedError, ConfigurationError, InputError, SignInError
from sourcier.settings import StoreSettings
from tests.fakes import HashingEmbedder
from tests.state_contract import audit_trail_contract
from tests.unit.indexes import build, doc_id

EMBEDDER = HashingEmbedder()
POLICY = AccessPolicy.from_dict(
    {
        "everyone": "tous",
        "admins": ["dsi"],
        "services": {"elections": ["tous"], "urbanisme": ["tous"], "rh": ["rh", "dgs"]},
        "referents": {"rh": ["rh-referents"]},
        "documents": {"urbanisme/permis.html": ["urbanisme"]},
        "users": {"paul@mairie.fr": ["rh"]},
    }
)


@pytest.fixture
def live(tmp_path):
    settings, index, store = build(tmp_path, EMBEDDER)
    label_chunks(store, POLICY, settings.corpus_dir)
    LexicalIndex.sync(index.layout.lexical(index.collection), store)
    return settings, index, store


def documents_read(index, reader: Reader) -> set[str]:
    return {chunk.metadata["doc_id"] for chunk in index.for_reader(reader).chunks()}


def test_a_service_listed_nowhere_is_for_admins_only():
    assert POLICY.document_groups("etat-civil/mariage.html") == [ADMINS_ONLY]
    assert POLICY.document_groups("rh/horaires.html") == ["@referents:rh", "dgs", "rh"]  # its referents read it
    assert POLICY.document_groups("urbanisme/permis.html") == ["urbanisme"]  # the document entry wins
    assert POLICY.document_groups("a-la-racine.html") == [ADMINS_ONLY]
    assert AccessPolicy.load(None).document_groups("rh/x.pdf") == [ADMINS_ONLY]


def test_a_sidecar_wins_and_an_unreadable_one_opens_nothing(tmp_path):
    (tmp_path / "rh").mkdir()
    (tmp_path / "rh" / "organigramme.pdf.acces.toml").write_text('groupes = ["tous"]\n', encoding="utf-8")
    (tmp_path / "rh" / "paie.pdf.acces.toml").write_text("groupes = [\n", encoding="utf-8")
    assert POLICY.document_groups("rh/organigramme.pdf", tmp_path) == ["@referents:rh", "tous"]
    assert POLICY.document_groups("rh/paie.pdf", tmp_path) == [ADMINS_ONLY]


def test_roles_come_from_groups():
    assert POLICY.reader("anne", ["dsi"]).role is Role.ADMIN
    referent = POLICY.reader("claire", ["rh-referents"])
    assert referent.role is Role.REFERENT and referent.referent_of == {"rh"} and referent.answers_for("rh")
    assert referent.may_read(POLICY.document_groups("rh/horaires.html"))
    agent = POLICY.reader("jean", [])
    assert agent.role is Role.AGENT and agent.groups == {"tous"} and not agent.answers_for("rh")
    assert POLICY.reader("paul@mairie.fr").groups == {"rh", "tous"}  # no groups from the provider: the policy's
    # A provider group spelled like Sourcier's own markers opens nothing.
    intruder = POLICY.reader("eve", ["@admins", "@referents:rh"])
    assert intruder.groups == {"tous"} and not intruder.may_read(POLICY.document_groups("rh/horaires.html"))
    assert not intruder.may_read(POLICY.document_groups("ccas/dossier.pdf"))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"service": {}}, "Clé inconnue"),
        ({"services": {"rh": 3}}, "liste de noms de groupes"),
        ({"services": ["rh"]}, "doit être une table"),
        ({"everyone": ""}, "everyone"),
    ],
)
def test_a_wrong_policy_says_what_is_wrong(data, message):
    with pytest.raises(ConfigurationError, match=message):
        AccessPolicy.from_dict(data)


def test_every_read_is_narrowed_to_the_readers_groups(live):
    _, index, _ = live
    everyone = POLICY.reader("jean", [])
    hr = POLICY.reader("paul", ["rh"])
    assert documents_read(index, everyone) == {doc_id("elections", "liste")}
    assert documents_read(index, hr) == {doc_id("elections", "liste"), doc_id("rh", "horaires")}
    assert len(documents_read(index, Reader.system())) == 4

    forbidden = doc_id("rh", "horaires")
    view = index.for_reader(everyone)
    query = "Les agents travaillent 1 607 heures par an ; les horaires variables"
    (dense,) = view.nearest([EMBEDDER.embed_query(query)], k=10)
    assert forbidden not in {hit.metadata["doc_id"] for hit in dense}
    assert all(not i.startswith(forbidden) for i, _ in view.lexical_search(query, 10))
    assert index.for_reader(hr).lexical_search(query, 10)[0][0].startswith(forbidden)  # the same search, allowed
    assert view.get([f"{forbidden}:v1:0000"]) == []
    assert forbidden not in view.counts_per_document() and view.count() == 2
    assert not view.may_read_document("rh/horaires.html") and view.may_read_document("elections/liste.html")


def test_an_index_read_for_nobody_reads_nothing(live):
    _, index, _ = live
    unbound = type(index)(index.state, index.collection, index._store)
    with pytest.raises(AccessDeniedError):
        unbound.nearest([EMBEDDER.embed_query("liste")], k=3)
    retriever = HybridRetriever(index=unbound, embedder=EMBEDDER)
    with pytest.raises(AccessDeniedError):
        retriever.invoke("liste électorale")
    assert retriever.invoke("liste électorale", reader=POLICY.reader("jean", []))


def test_a_policy_change_is_applied_without_touching_vectors(live):
    settings, index, store = live
    before = {c.id: c.vector.copy() for c in store.get(with_vectors=True)}
    opened = AccessPolicy.from_dict({"services": {"rh": ["tous"], "elections": ["tous"]}})
    changed = label_chunks(store, opened, settings.corpus_dir)
    assert changed.chunks == 2 and changed.documents == 2 and changed.total == 5  # rh opened, urbanisme closed
    assert label_chunks(store, opened, settings.corpus_dir).chunks == 0  # idempotent
    LexicalIndex.sync(index.layout.lexical(index.collection), store)
    index._lexical_holder.clear()
    everyone = opened.reader("jean", [])
    assert doc_id("rh", "horaires") in documents_read(index, everyone)
    assert doc_id("urbanisme", "permis") not in documents_read(index, everyone)
    hits = index.for_reader(everyone).lexical_search("agents travaillent heures", 5)
    assert hits and hits[0][0].startswith(doc_id("rh", "horaires"))
    assert all((c.vector == before[c.id]).all() for c in store.get(with_vectors=True))


def test_the_report_shows_a_referent_only_their_services():
    place = lambda path, service: {"path": path, "service": service, "title": "", "page": None}  # noqa: E731
    report = {
        "documents": 3,
        "history": [{"date": "2026-01-01"}],
        "findings": [
            {"id": "a", "places": [place("rh/a.pdf", "rh")]},
            {"id": "b", "places": [place("rh/a.pdf", "rh"), place("urbanisme/b.pdf", "urbanisme")]},
            {"id": "c", "places": [place("(questions des agents)", "")]},
        ],
        "ranked_documents": [{"path": "rh/a.pdf"}, {"path": "urbanisme/b.pdf"}],
    }
    seen = report_for_reader(report, POLICY.reader("claire", ["rh-referents"]), lambda path: True)
    assert [f["id"] for f in seen["findings"]] == ["a"]
    assert seen["ranked_documents"] == [{"path": "rh/a.pdf"}] and seen["history"] == []
    assert report_for_reader(report, POLICY.reader("anne", ["dsi"]), lambda path: False) is report
    # A document of their service that a sidecar closes to them (« groupes = [] »): its findings are not theirs.
    closed = report_for_reader(report, POLICY.reader("claire", ["rh-referents"]), lambda path: path != "rh/a.pdf")
    assert closed["findings"] == [] and closed["ranked_documents"] == []
    # The whole report's counts per service are not theirs to see either.
    report["counts"] = {"by_service": {"rh": 1, "ccas": 4}, "total": 5}
    agent = report_for_reader(report, POLICY.reader("paul", ["rh"]), lambda path: True)
    assert agent["findings"] == [] and agent["counts"]["total"] == 0 and agent["counts"]["by_service"] == {}


def test_the_audit_trail_is_append_only_masked_and_purged(tmp_path):
    audit_trail_contract(StoreSettings(path=tmp_path))


def test_local_accounts(tmp_path):
    accounts = Accounts.of(StoreSettings(path=tmp_path))
    accounts.add("marie", "un mot de passe solide", ["dsi"])
    assert accounts.verify("marie", "un mot de passe solide").groups == ["dsi"]
    with pytest.raises(SignInError) as wrong_password:
        accounts.verify("marie", "un autre mot de passe")
    with pytest.raises(SignInError) as unknown:
        accounts.verify("personne", "un mot de passe solide")
    assert str(wrong_password.value) == str(unknown.value)  # the message does not tell which was wrong
    with pytest.raises(InputError, match="trop court"):
        accounts.add("jean", "court", [])
    with pytest.raises(InputError, match="existe déjà"):
        accounts.add("marie", "un mot de passe solide", [])
    with accounts.engine.connect() as db:
        assert "argon2id" in db.execute(text("SELECT password FROM accounts")).scalar_one()
    accounts.remove("marie")
    with pytest.raises(SignInError):
        accounts.verify("marie", "un mot de passe solide")


def test_password_guessing_is_slowed_down_per_name_without_hashing(tmp_path, monkeypatch):
    import sourcier.accounts as module

    accounts = Accounts.of(StoreSettings(path=tmp_path))
    accounts.add("marie", "un mot de passe solide", ["dsi"])
    clock = [1000.0]
    throttle = SignInThrottle(free_failures=3, first_delay_s=30, clock=lambda: clock[0])
    hashed = []

    class CountingHasher:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, *args):
            hashed.append(1)
            return real.verify(*args)

    real = module._HASHER
    monkeypatch.setattr(module, "_HASHER", CountingHasher())
    for _ in range(3):
        with pytest.raises(SignInError, match="incorrect"):
            accounts.verify("marie", "essai", throttle)
    with pytest.raises(SignInError, match="incorrect"):
        accounts.verify("marie", "essai", throttle)  # the 4th failure starts the delay
    count = len(hashed)
    with pytest.raises(SignInError, match="Trop de tentatives .* 1 minute\\."):
        accounts.verify("marie", "un mot de passe solide", throttle)  # even the right one, and nothing hashed
    assert len(hashed) == count
    with pytest.raises(SignInError, match="incorrect"):
        accounts.verify("paul", "essai", throttle)  # other names are not held back
    clock[0] += 31
    with pytest.raises(SignInError, match="incorrect"):
        accounts.verify("marie", "essai", throttle)  # the 5th failure: 60 s now
    clock[0] += 31
    with pytest.raises(SignInError, match="Trop de tentatives"):
        accounts.verify("marie", "un mot de passe solide", throttle)
    clock[0] += 30
    assert accounts.verify("marie", "un mot de passe solide", throttle).name == "marie"  # and the slate is clean
    with pytest.raises(SignInError, match="incorrect"):
        accounts.verify("marie", "essai", throttle)


def test_the_names_a_guesser_invents_do_not_grow_the_throttle():
    throttle = SignInThrottle(remembered=100)
    for number in range(1000):
        throttle.failed(f"nom-{number}")
    assert len(throttle._failures) == 100


def test_nearest_is_exact_whether_the_reader_may_read_much_or_little(tmp_path):
    passages = {("public", f"fiche{i}"): [f"Fiche publique numéro {i} sur les démarches en mairie."] for i in range(60)}
    passages[("rh", "paie")] = ["La paie des agents est versée le 25 de chaque mois."]
    settings, index, store = build(tmp_path, EMBEDDER, passages)
    policy = AccessPolicy.from_dict({"services": {"public": ["tous"], "rh": ["rh"]}})
    label_chunks(store, policy, settings.corpus_dir)
    query = [EMBEDDER.embed_query("La paie des agents est versée le 25 de chaque mois.")]
    everyone, admin = policy.reader("jean", []), Reader.system()
    for reader in (everyone, policy.reader("paul", ["rh"]), admin):
        view = index.for_reader(reader)
        (found,) = view.nearest(query, k=3)
        allowed = [c for c in store.get() if reader.may_read(c.metadata["access"])]
        (expected,) = store.query(query, k=3, where=None if reader.is_admin else reader.clause())
        assert [c.id for c in found] == [c.id for c in expected] and len(found) == 3
        assert all(c.id in {a.id for a in allowed} for c in found)
    # Someone who may read only the HR document: not among the wide unfiltered nearest, found by the fallback.
    hr_only = Reader(name="rh", groups=frozenset({"rh"}))
    (found,) = index.for_reader(hr_only).nearest([EMBEDDER.embed_query("Fiche publique numéro 7 en mairie")], k=3)
    assert [c.metadata["doc_id"] for c in found] == [doc_id("rh", "paie")]


def test_an_unverified_email_never_names_a_user():
    from sourcier.access import name_claim

    names = ("email", "preferred_username", "sub")
    assert name_claim({"email": "marie@mairie.fr", "email_verified": True, "sub": "1"}, names) == "marie@mairie.fr"
    # A provider that lets users edit their e-mail: « marie@mairie.fr » typed by someone else is not Marie.
    assert name_claim({"email": "marie@mairie.fr", "sub": "f3a9"}, names) == "f3a9"
    assert name_claim({"email": "marie@mairie.fr", "email_verified": False, "sub": "f3a9"}, names) == "f3a9"
    assert name_claim({"email": "marie@mairie.fr", "email_verified": "true"}, names) == "marie@mairie.fr"
    assert name_claim({"email": "marie@mairie.fr"}, names) is None


def test_a_sidecar_that_is_a_link_is_never_applied_and_a_long_name_has_none(tmp_path):
    policy = AccessPolicy.from_dict({"services": {"rh": ["rh"]}})
    corpus = tmp_path / "corpus"
    (corpus / "rh").mkdir(parents=True)
    (corpus / "rh" / "paie.pdf").write_bytes(b"%PDF")
    outside = tmp_path / "ailleurs.toml"
    outside.write_text('groupes = ["tous"]\n')
    (corpus / "rh" / "paie.pdf.acces.toml").symlink_to(outside)  # it once set the document's groups
    assert policy.document_groups("rh/paie.pdf", corpus) == ["rh"]
    long_name = "a" * 246 + ".txt"  # legal on ext4, too long to take « .acces.toml » (ENAMETOOLONG)
    (corpus / "rh" / long_name).write_text("note")
    assert policy.document_groups(f"rh/{long_name}", corpus) == ["rh"]
