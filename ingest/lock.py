"""One ingestion at a time per index, across processes and servers: with PostgreSQL, an advisory lock held by the
ingestion's own database session; with SQLite (one server), an advisory file lock. Either is released by the
system if the process dies — no stale lock to clear by hand."""

from __future__ import annotations

import fcntl
import os

from sqlalchemy import Connection, text

from sourcier.database import engine_for
from sourcier.errors import IngestionRunningError
from sourcier.layout import StoreLayout
from sourcier.settings import StoreSettings

_KEY = 0x53_4F_55_52  # the advisory lock's number: any fixed one, the same for every replica

_RUNNING = "Une ingestion est déjà en cours sur cet index : attendez qu'elle se termine."


class IngestionLock:
    def __init__(self, store: StoreSettings) -> None:
        self.store = store
        self.path = StoreLayout(store.path).lock
        self._handle = None
        self._session: Connection | None = None

    @property
    def _shared(self) -> bool:
        return engine_for(self.store).dialect.name == "postgresql"

    def __enter__(self) -> IngestionLock:
        if self._shared:
            session = engine_for(self.store).connect()
            if not session.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _KEY}).scalar():
                session.close()
                raise IngestionRunningError(_RUNNING)
            session.commit()
            self._session = session
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise IngestionRunningError(_RUNNING) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info) -> None:
        if self._session is not None:
            self._session.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _KEY})
            self._session.commit()
            self._session.close()
            self._session = None
        if self._handle:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def is_held(self) -> bool:
        """Whether another process (on any server sharing the database) is ingesting right now."""
        if self._shared:
            with engine_for(self.store).connect() as session:
                # Advisory locks belong to one database; pg_locks lists those of the whole server.
                query = (
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
                return bool(session.execute(text(query), {"key": _KEY}).scalar())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
