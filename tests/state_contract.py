"""What the shared database must do, whatever it is: one function per store, called by the fast tier on SQLite
(tests/unit) and by tests/test_database.py on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from falc.drafts import DraftStore
from falc.rewrite import Draft, Passage, Section
from ingest.manifest import DocumentRecord, Manifest
from quality.findings import Finding, FindingStatus, FindingType, Place, Severity
from quality.state import QualityState
from rag.conversation import ConversationStore, Turn, TurnState
from sourcier.access import AccessPolicy
from sourcier.accounts import Accounts
from sourcier.api_keys import ApiKeys
from sourcier.audit import AuditKind, AuditLog
from sourcier.errors import InputError, SignInError
from sourcier.feedback import FeedbackStore
from sourcier.settings import StoreSettings

POLICY = AccessPolicy.from_dict({"admins": ["dsi"], "services": {"rh": ["rh"]}})


def audit_trail_contract(store: StoreSettings) -> None:
    """Append-only (the database refuses an UPDATE, and a DELETE of an event younger than the retention period),
    masked, purged when opened."""
    log = AuditLog.of(store, retention_days=180)
    reader = POLICY.reader("paul", ["rh"])
    log.record(AuditKind.QUESTION, reader, question="Mon IBAN FR76 3000 6000 0112 3456 7890 189 est-il bon ?")
    (event,) = log.events()
    assert event.user == "paul" and event.groups == ["rh", "tous"] and "3456" not in event.detail["question"]
    with pytest.raises(DBAPIError, match="modification interdite"), log.engine.begin() as db:
        db.execute(text("UPDATE audit_events SET user_name = 'autre'"))
    with pytest.raises(DBAPIError, match="suppression interdite"), log.engine.begin() as db:
        db.execute(text("DELETE FROM audit_events"))
    old = (datetime.now(UTC) - timedelta(days=200)).isoformat(timespec="seconds")
    with log.engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO audit_events (at, kind, user_name, groups, detail) "
                "VALUES (:at, 'sign_in', 'x', '[]', '{}')"
            ),
            {"at": old},
        )
    assert len(log.events()) == 2
    AuditLog.of(store, retention_days=180)  # opening purges what is past the retention period
    assert [e.user for e in log.events()] == ["paul"]
    assert [e.user for e in log.events(user="PAU")] == ["paul"]  # the user filter ignores case, in every database


def concurrent_writers_contract(store: StoreSettings, writers: int = 8, each: int = 25) -> None:
    """Writers at once (as replicas and their threads are) lose no row."""
    log, feedback = AuditLog.of(store), FeedbackStore.of(store)
    before = len(log.events(limit=1_000_000))

    def write(number: int) -> None:
        for i in range(each):
            log.record(AuditKind.QUESTION, f"agent{number}", question=f"question {i}")
            feedback.record_feedback(1, f"question {i}", "réponse", [f"chunk{i}"])

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    assert len(log.events(limit=1_000_000)) - before == writers * each
    ids = [row["id"] for row in feedback.feedback()]
    assert len(ids) >= writers * each and len(set(ids)) == len(ids)


def feedback_contract(store: StoreSettings) -> None:
    feedback = FeedbackStore.of(store)
    given = feedback.record_feedback(-1, "Combien ?", "Trois.", ["a:1"], comment=" trop court ")
    feedback.update_comment(given, "incomplet")
    (row,) = [f for f in feedback.feedback() if f["id"] == given]
    assert row["rating"] == -1 and row["comment"] == "incomplet" and row["cited_chunks"] == ["a:1"]
    feedback.record_unanswered("Horaires de la piscine ?", "Horaires de la piscine ?", "hors corpus", [{"title": "x"}])
    assert feedback.unanswered()[0]["closest"] == [{"title": "x"}]
    with pytest.raises(ValueError):
        feedback.record_feedback(5, "q", "a", [])


def accounts_and_keys_contract(store: StoreSettings) -> None:
    accounts = Accounts.of(store)
    accounts.add("marie", "un mot de passe solide", ["dsi"])
    assert accounts.verify("marie", "un mot de passe solide").groups == ["dsi"]
    with pytest.raises(InputError, match="existe déjà"):
        accounts.add("marie", "un mot de passe solide", [])
    accounts.set_groups("marie", ["rh", "dsi"])
    assert accounts.get("marie").groups == ["dsi", "rh"]
    accounts.remove("marie")
    with pytest.raises(SignInError):
        accounts.verify("marie", "un mot de passe solide")

    keys = ApiKeys.of(store)
    key, secret = keys.add("intranet", ["tous"])
    assert keys.verify(secret).groups == ["tous"] and keys.list()[0].last_used_at
    with pytest.raises(InputError, match="existe déjà"):
        keys.add("intranet", ["tous"])
    keys.remove("intranet")
    with pytest.raises(SignInError):
        keys.verify(secret)


def manifest_contract(store: StoreSettings) -> None:
    """Records round-trip; a rebuild's switch of collection is one transaction; runs are recorded."""
    with Manifest(store) as manifest:
        record = DocumentRecord(
            path="rh/a.pdf",
            doc_id="d1",
            file_hash="f1",
            indexed_hash="v1",
            status="indexed",
            chunks=3,
            pages=2,
            title="A",
            format="pdf",
            service="rh",
            doc_date="2024-01-02",
        )
        manifest.record("live", record)
        manifest.record(
            "new",
            DocumentRecord(
                path="rh/b.pdf", doc_id="d2", file_hash="f2", indexed_hash=None, status="failed", reason="PDF endommagé"
            ),
        )
        assert manifest.documents("live") == {"rh/a.pdf": record}
        assert manifest.active_collection("live") == "live"
        manifest.switch_collection("new", "live")
    with Manifest(store) as reopened:
        assert reopened.active_collection("live") == "new"
        assert reopened.documents("live") == {}
        assert reopened.documents("new")["rh/b.pdf"].reason == "PDF endommagé"
        reopened.start_run("r1", "new", "2026-11-28T00:00:00+00:00")
        assert reopened.last_run() is None and reopened.unfinished_runs() == 1
        reopened.finish_run("r1", {"counts": {"indexed": 1}})
        assert reopened.last_run() == {"counts": {"indexed": 1}}


def app_state_contract(store: StoreSettings) -> None:
    """Conversations, owners' marks and the report's cache, FALC drafts: found again by any app server."""
    conversations = ConversationStore.of(store)
    conversations.save("conversation-de-test-1", 0, Turn("Horaires ?", ["elections"], TurnState.DONE), "marie")
    conversations.save("conversation-de-test-1", 0, Turn("Horaires ?", [], TurnState.FAILED, error="non"), "marie")
    (turn,) = conversations.load("conversation-de-test-1", "marie")
    assert turn.state is TurnState.FAILED and turn.error == "non"
    assert (
        conversations.load("conversation-de-test-1", "jean") == []
        and conversations.owner("conversation-de-test-1") == "marie"
    )
    conversations.clear("conversation-de-test-1", "marie")
    assert conversations.owner("conversation-de-test-1") is None

    state = QualityState(store)
    state.mark("abc", FindingStatus.FALSE_POSITIVE, "deux aides différentes")
    assert state.marks()["abc"]["note"] == "deux aides différentes"
    state.mark("abc", FindingStatus.NEW)
    assert state.marks() == {}
    finding = Finding(
        FindingType.DUPLICATE, Severity.LOW, [Place("rh/a.pdf", service="rh")], ["extrait"], "e", "a", "k"
    )
    state.store([("doc1", "v1", [finding])], analyses="2")
    assert state.cached("doc1", "v1", "2")[0].id == finding.id and state.cached("doc1", "v2", "2") is None
    state.forget_other_versions({"doc1": "v2"})
    assert state.cached("doc1", "v1", "2") is None

    drafts = DraftStore.of(store)
    draft = Draft("Aide", "aide.md", [Section("Montant", [Passage("Montant : 1 500 €.", "Vous recevez 1 500 €.", 1)])])
    drafts.save("alice", "doc1", draft)
    drafts.save("alice", "doc1", draft)
    assert drafts.load("alice", "doc1") == draft and drafts.load("bob", "doc1") is None
    drafts.delete("alice", "doc1")
    assert drafts.load("alice", "doc1") is None
