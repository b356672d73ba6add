"""API keys: service accounts of the HTTP API (an intranet search box, a chat bot), each bound to groups.

A key is shown once, when it is created, and kept only as its SHA-256: it is 32 random bytes, so a fast hash is
enough (a password needs a slow one because it is guessable; a key is not). A key acts with its groups exactly as a
signed-in user with those groups would, under the same access policy.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, MetaData, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sourcier.accounts import check_name
from sourcier.clock import now
from sourcier.database import engine_for
from sourcier.errors import InputError, SignInError
from sourcier.hashing import sha256_bytes
from sourcier.settings import StoreSettings

PREFIX = "sourcier_"  # recognisable in a leaked configuration file (and by secret scanners)

_KEYS = Table(
    "api_keys",
    MetaData(),
    Column("name", Text, primary_key=True),
    Column("key_hash", Text),
    Column("groups", Text),
    Column("created_at", Text),
    Column("last_used_at", Text),
)


@dataclass(frozen=True)
class ApiKey:
    name: str
    groups: list[str]
    created_at: str
    last_used_at: str | None = None

    @property
    def reader_name(self) -> str:
        """How the key's calls are named in the audit trail: never mistaken for a person."""
        return f"{self.name} (clé d'API)"


def _hash(secret: str) -> str:
    return sha256_bytes(secret.encode())


class ApiKeys:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, store: StoreSettings) -> ApiKeys:
        return cls(engine_for(store))

    def add(self, name: str, groups: list[str]) -> tuple[ApiKey, str]:
        """The new key and its secret (shown once, never stored)."""
        name = check_name(name)
        groups = sorted({g.strip() for g in groups if g.strip()})
        if not groups:
            raise InputError("Une clé d'API doit avoir au moins un groupe (--groups) : ce sont ses droits de lecture.")
        secret = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(name, groups, now())
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(_KEYS).values(
                        name=name, key_hash=_hash(secret), groups=",".join(groups), created_at=key.created_at
                    )
                )
        except IntegrityError as error:
            raise InputError(f"La clé d'API « {name} » existe déjà.") from error
        return key, secret

    def remove(self, name: str) -> None:
        with self.engine.begin() as db:
            if not db.execute(delete(_KEYS).where(_KEYS.c.name == name)).rowcount:
                raise InputError(f"Aucune clé d'API « {name} ».")

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as db:
            rows = db.execute(select(_KEYS).order_by(_KEYS.c.name)).mappings().all()
        return [_key(row) for row in rows]

    def verify(self, secret: str) -> ApiKey:
        """The key `secret` opens; `SignInError` if none (looked up by hash: no secret is ever compared)."""
        if not secret.startswith(PREFIX):
            raise SignInError("Clé d'API inconnue ou révoquée.")
        digest = _hash(secret)
        with self.engine.begin() as db:
            row = db.execute(select(_KEYS).where(_KEYS.c.key_hash == digest)).mappings().first()
            if row is None:
                raise SignInError("Clé d'API inconnue ou révoquée.")
            # Written at most once a minute: a busy key does not turn every call into a write.
            stamp = now()
            if (row["last_used_at"] or "") < _minute_before(stamp):
                db.execute(update(_KEYS).where(_KEYS.c.key_hash == digest).values(last_used_at=stamp))
        return _key(row)


def _minute_before(stamp: str) -> str:
    return (datetime.fromisoformat(stamp) - timedelta(minutes=1)).isoformat(timespec="seconds")


def _key(row) -> ApiKey:
    return ApiKey(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"], row["last_used_at"])
