"""Sourcier's shared state in a real database, through SQLAlchemy: SQLite beside the index by default
(`state.sqlite3` in the store folder), PostgreSQL when `store.database_url` names one — so that several API
replicas on several servers share it. The schema is Alembic's (`sourcier/migrations`), brought up to date when a
process first opens the database (on PostgreSQL under an advisory lock: replicas starting together migrate once).

Held here: the ingestion manifest (the live collection, documents, exclusions, runs), the audit trail, feedback and
unanswered questions, local accounts, API keys, the app's conversations, owners' marks and the quality report's
history and cache, FALC drafts. The store folder keeps only caches and the last ingestion's progress and log. Files
of the earlier layout (one SQLite file per store) are imported once, then renamed `*.importe`.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, insert, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from sourcier.errors import StoreUnavailableError
from sourcier.settings import StoreSettings

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x50_55_52_43  # any fixed number: the advisory lock replicas take to migrate one at a time

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url(store: StoreSettings) -> str:
    return store.database_url or f"sqlite:///{(store.path / 'state.sqlite3').resolve()}"


def engine_for(store: StoreSettings) -> Engine:
    """The database of `store`, migrated; one engine (and connection pool) per database and process."""
    url = database_url(store)
    with _lock:
        if url not in _engines:
            _engines[url] = _open(url, store.path)
        return _engines[url]


def _open(url: str, store_path: Path) -> Engine:
    sqlite_file = url.startswith("sqlite")
    if sqlite_file:
        store_path.mkdir(parents=True, exist_ok=True)
        # A connection per use, none kept open: opening SQLite costs microseconds, and a process that touches many
        # stores (a test session, an admin script) must not pile up open files.
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _concurrent_readers(connection, _record) -> None:
            # Readers never wait for the writer; writers of other processes wait their turn instead of failing.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            # The manifest is written after the store, per document: what it says must survive a power cut.
            connection.execute("PRAGMA synchronous=FULL")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    try:
        if sqlite_file:
            # Processes starting together migrate one after the other (PostgreSQL has its advisory lock).
            with (store_path / "state.migration.lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                migrate(engine)
                _import_legacy_files(engine, store_path)
        else:
            migrate(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise StoreUnavailableError(
            f"Base de données injoignable ({engine.url.render_as_string(hide_password=True)}) : "
            f"{' '.join(str(getattr(error, 'orig', None) or error).split())[:200]}"
        ) from error
    return engine


def put(connection: Connection, table: Table, key: dict, values: dict) -> None:
    """Insert or replace the row of `key` (the same statements in every database)."""
    connection.execute(delete(table).where(*(table.c[name] == value for name, value in key.items())))
    connection.execute(insert(table).values(**key, **values))


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# --- files written before the database -------------------------------------------------------------------------

# file → [(its table, the table here, renamed columns)]
_LEGACY = {
    "audit.sqlite3": [("events", "audit_events", {"user": "user_name"}), ("retention", None, {})],
    "feedback.sqlite3": [("unanswered", "unanswered", {}), ("feedback", "feedback", {})],
    "accounts.sqlite3": [("accounts", "accounts", {})],
    "api_keys.sqlite3": [("api_keys", "api_keys", {})],
    "conversations.sqlite3": [("turns", "conversation_turns", {})],
    "quality.sqlite3": [
        ("marks", "quality_marks", {}),
        ("runs", "quality_runs", {}),
        ("document_cache", "quality_cache", {}),
    ],
    "falc.sqlite3": [("drafts", "falc_drafts", {})],
    "manifest.sqlite3": [
        ("state", "index_state", {}),
        ("documents", "documents", {}),
        ("excluded", "exclusions", {}),
        ("runs", "ingestion_runs", {}),
    ],
}


def _import_legacy_files(engine: Engine, store_path: Path) -> None:
    for name, tables in _LEGACY.items():
        legacy = store_path / name
        if not legacy.is_file():
            continue
        source = sqlite3.connect(legacy)
        source.row_factory = sqlite3.Row
        try:
            with engine.begin() as connection:
                known = set(inspect(connection).get_table_names())
                if any(new is not None and new not in known for _, new, _ in tables):
                    continue  # a schema without these tables yet: the file stays, to be imported once they exist
                for old, new, renamed in tables:
                    if new is None:
                        continue
                    try:
                        rows = [dict(row) for row in source.execute(f"SELECT * FROM {old}")]  # noqa: S608 (fixed names)
                    except sqlite3.OperationalError:  # that table was never created there
                        continue
                    for row in rows:
                        values = {renamed.get(key, key): value for key, value in row.items()}
                        columns = ", ".join(values)
                        placeholders = ", ".join(f":{key}" for key in values)
                        connection.execute(text(f"INSERT INTO {new} ({columns}) VALUES ({placeholders})"), values)
        finally:
            source.close()
        legacy.rename(legacy.with_name(legacy.name + ".importe"))
