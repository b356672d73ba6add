"""The shared state on both databases Sourcier supports: SQLite (the default) and a real PostgreSQL started on
loopback from Debian's package. The same contract runs on each (tests/state_contract.py); then what only a
deployment meets: replicas writing at once, migrations run by two processes starting together, files of the earlier
layout imported once."""

import itertools
import sqlite3
import subprocess
import sys
import time

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ingest.lock import IngestionLock
from sourcier.accounts import Accounts
from sourcier.audit import AuditLog
from sourcier.database import MIGRATIONS, engine_for
from sourcier.errors import IngestionRunningError, StoreUnavailableError
from sourcier.feedback import FeedbackStore
from sourcier.settings import StoreSettings
from tests.state_contract import (
    accounts_and_keys_contract,
    app_state_contract,
    audit_trail_contract,
    concurrent_writers_contract,
    feedback_contract,
    manifest_contract,
)

_names = (f"etat{n}" for n in itertools.count())


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> StoreSettings:
    if request.param == "sqlite":
        return StoreSettings(path=tmp_path)
    server = request.getfixturevalue("postgresql")
    return StoreSettings(path=tmp_path, database_url=server.database(next(_names)))


def test_audit_trail(store):
    audit_trail_contract(store)


def test_feedback(store):
    feedback_contract(store)


def test_accounts_and_keys(store):
    accounts_and_keys_contract(store)


def test_manifest(store):
    manifest_contract(store)


def test_what_the_app_keeps(store):
    app_state_contract(store)


def test_one_ingestion_at_a_time_even_across_servers(store, request):
    with IngestionLock(store):
        assert IngestionLock(store).is_held()
        with pytest.raises(IngestionRunningError, match="déjà en cours"), IngestionLock(store):
            pass
    assert not IngestionLock(store).is_held()
    if store.database_url:  # another database of the same server is another index: its lock is not this one's
        other = StoreSettings(
            path=store.path / "autre", database_url=request.getfixturevalue("postgresql").database(next(_names))
        )
        with IngestionLock(other):
            assert not IngestionLock(store).is_held()
    # A process that dies holding it frees it: nothing to clear by hand.
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store.path), store.database_url or ""], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "verrou pris"
    assert IngestionLock(store).is_held()
    holder.kill()
    holder.wait()
    deadline = time.monotonic() + 10
    while IngestionLock(store).is_held():
        assert time.monotonic() < deadline, "le verrou d'un processus tué n'est pas libéré"
        time.sleep(0.1)


_HOLDER = """
import sys, time
from ingest.lock import IngestionLock
from sourcier.settings import StoreSettings
with IngestionLock(StoreSettings(path=sys.argv[1], database_url=sys.argv[2] or None)):
    print("verrou pris", flush=True)
    time.sleep(60)
"""


def test_concurrent_writers_lose_nothing(store):
    concurrent_writers_contract(store)


_WRITER = """
import sys
from sourcier.audit import AuditKind, AuditLog
from sourcier.settings import StoreSettings
log = AuditLog.of(StoreSettings(path=sys.argv[1], database_url=sys.argv[2] or None))
for i in range(100):
    log.record(AuditKind.QUESTION, "processus", question=f"question {i}")
"""


def test_processes_starting_together_migrate_once_and_lose_no_row(store):
    """Four processes open a database no one has opened yet (each runs the migrations) and write at once."""
    url = store.database_url or ""
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(store.path), url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    assert len(AuditLog.of(store).events(user="processus", limit=10_000)) == 400
    with engine_for(store).connect() as db:
        versions = db.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    assert versions == [ScriptDirectory(str(MIGRATIONS)).get_current_head()]


def test_files_of_the_earlier_layout_are_imported_once(tmp_path):
    """A store written before the shared database: its accounts, feedback and audit trail are still there."""
    with sqlite3.connect(tmp_path / "accounts.sqlite3") as db:
        db.execute("CREATE TABLE accounts (name TEXT PRIMARY KEY, groups TEXT, password TEXT, created_at TEXT)")
        db.execute("INSERT INTO accounts VALUES ('marie', 'dsi', 'hash', '2026-01-01T00:00:00+00:00')")
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT, kind TEXT, user TEXT, groups TEXT, detail TEXT)"
        )
        db.execute("INSERT INTO events VALUES (7, '2026-11-01T10:00:00+00:00', 'sign_in', 'marie', '[]', '{}')")
        db.execute("CREATE TABLE retention (days INTEGER)")
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        db.execute(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY, given_at TEXT, rating INTEGER, comment TEXT, question TEXT,"
            " answer TEXT, cited_chunks TEXT, backend TEXT, model TEXT)"
        )
        db.execute("INSERT INTO feedback VALUES (1, '2026-11-02', 1, NULL, 'q', 'a', '[]', NULL, NULL)")

    store = StoreSettings(path=tmp_path)
    assert [a.name for a in Accounts.of(store).list()] == ["marie"]
    assert [(e.id, e.user) for e in AuditLog.of(store).events()] == [(7, "marie")]
    assert [f["question"] for f in FeedbackStore.of(store).feedback()] == ["q"]
    assert not (tmp_path / "accounts.sqlite3").exists() and (tmp_path / "accounts.sqlite3.importe").exists()
    assert set(inspect(engine_for(store)).get_table_names()) >= {"audit_events", "feedback", "accounts", "api_keys"}


def test_the_database_takes_no_connection_in_clear_nor_a_wrong_password(postgresql, tmp_path):
    """As a site's PostgreSQL: a role with a password, over TLS only (the server's certificate checked)."""
    url = postgresql.database(next(_names))
    AuditLog.of(StoreSettings(path=tmp_path, database_url=url))  # the site's URL works
    in_clear = url.replace("sslmode=verify-full", "sslmode=disable")
    wrong = url.replace(postgresql.password, "devine")
    for refused in (in_clear, wrong):
        with pytest.raises(StoreUnavailableError):
            AuditLog.of(StoreSettings(path=tmp_path, database_url=refused))


def test_an_unreachable_database_is_said_in_french(tmp_path):
    store = StoreSettings(path=tmp_path, database_url="postgresql+psycopg://sourcier@127.0.0.1:1/sourcier")
    with pytest.raises(StoreUnavailableError, match="Base de données injoignable"):
        engine_for(store)
