"""API keys: service accounts of the HTTP API (an intranet search box, a chat bot), each bound to groups.

A key is shown once, when it is created, and kept only as its SHA-256: it is 32 random bytes, so a fast hash is
enough (a password needs a slow one because it is guessable; a key is not). A key acts with its groups exactly as a
signed-in user with those groups would, under the same access policy.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sourcier import sqlite
from sourcier.accounts import check_name
from sourcier.clock import now
from sourcier.errors import InputError, SignInError
from sourcier.hashing import sha256_bytes
from sourcier.layout import StoreLayout

PREFIX = "sourcier_"  # recognisable in a leaked configuration file (and by secret scanners)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    groups TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
"""


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
    def __init__(self, path: Path) -> None:
        self.path = sqlite.create(path, _SCHEMA)

    @classmethod
    def of(cls, layout: StoreLayout) -> ApiKeys:
        return cls(layout.api_keys)

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self.path)

    def add(self, name: str, groups: list[str]) -> tuple[ApiKey, str]:
        """The new key and its secret (shown once, never stored)."""
        name = check_name(name)
        groups = sorted({g.strip() for g in groups if g.strip()})
        if not groups:
            raise InputError("Une clé d'API doit avoir au moins un groupe (--groups) : ce sont ses droits de lecture.")
        secret = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(name, groups, now())
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO api_keys(name, key_hash, groups, created_at) VALUES (?,?,?,?)",
                    (name, _hash(secret), ",".join(groups), key.created_at),
                )
        except sqlite3.IntegrityError as error:
            raise InputError(f"La clé d'API « {name} » existe déjà.") from error
        return key, secret

    def remove(self, name: str) -> None:
        with self._connect() as db:
            if not db.execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount:
                raise InputError(f"Aucune clé d'API « {name} ».")

    def list(self) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM api_keys ORDER BY name").fetchall()
        return [_key(row) for row in rows]

    def verify(self, secret: str) -> ApiKey:
        """The key `secret` opens; `SignInError` if none (looked up by hash: no secret is ever compared)."""
        if not secret.startswith(PREFIX):
            raise SignInError("Clé d'API inconnue ou révoquée.")
        digest = _hash(secret)
        with self._connect() as db:
            row = db.execute("SELECT * FROM api_keys WHERE key_hash = ?", (digest,)).fetchone()
            if row is None:
                raise SignInError("Clé d'API inconnue ou révoquée.")
            db.execute("UPDATE api_keys SET last_used_at = ? WHERE key_hash = ?", (now(), digest))
        return _key(row)


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"], row["last_used_at"])
