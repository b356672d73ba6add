"""Local accounts, for a server without an identity provider (identity mode « local »): names, groups and
argon2id password hashes, in a SQLite file beside the index. There is no default account and no default password:
the first admin is created with `sourcier users add NAME --groups <an admin group>`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sourcier import sqlite
from sourcier.clock import now
from sourcier.errors import InputError, SignInError
from sourcier.layout import StoreLayout

MIN_PASSWORD = 12  # ANSSI's recommendation for a password alone: 12 characters at least

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    groups TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
_HASHER = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106 low-memory profile)
# Verified when the name is unknown, so that a wrong name costs the same time as a wrong password.
_DUMMY = _HASHER.hash("sourcier-compte-inexistant")


@dataclass(frozen=True)
class Account:
    name: str
    groups: list[str]
    created_at: str


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"Mot de passe trop court : {MIN_PASSWORD} caractères au moins.")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() or not c.isprintable() for c in name):
        raise InputError("Nom d'utilisateur invalide : sans espace, 100 caractères au plus.")
    return name


class Accounts:
    def __init__(self, path: Path) -> None:
        self.path = sqlite.create(path, _SCHEMA)

    @classmethod
    def of(cls, layout: StoreLayout) -> Accounts:
        return cls(layout.accounts)

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self.path)

    def add(self, name: str, password: str, groups: list[str]) -> Account:
        name = check_name(name)
        check_password(password)
        groups = sorted({g.strip() for g in groups if g.strip()})
        account = Account(name, groups, now())
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO accounts VALUES (?,?,?,?)",
                    (name, ",".join(groups), _HASHER.hash(password), account.created_at),
                )
        except sqlite3.IntegrityError as error:
            raise InputError(f"Le compte « {name} » existe déjà.") from error
        return account

    def remove(self, name: str) -> None:
        with self._connect() as db:
            if not db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount:
                raise InputError(f"Aucun compte « {name} ».")

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        with self._connect() as db:
            if not db.execute(
                "UPDATE accounts SET password = ? WHERE name = ?", (_HASHER.hash(password), name)
            ).rowcount:
                raise InputError(f"Aucun compte « {name} ».")

    def set_groups(self, name: str, groups: list[str]) -> None:
        with self._connect() as db:
            if not db.execute(
                "UPDATE accounts SET groups = ? WHERE name = ?", (",".join(sorted(set(groups))), name)
            ).rowcount:
                raise InputError(f"Aucun compte « {name} ».")

    def list(self) -> list[Account]:
        with self._connect() as db:
            rows = db.execute("SELECT name, groups, created_at FROM accounts ORDER BY name").fetchall()
        return [Account(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"]) for row in rows]

    def get(self, name: str) -> Account | None:
        return next((a for a in self.list() if a.name == name), None)

    def verify(self, name: str, password: str) -> Account:
        """The account, if the password is right; `SignInError` (the same message either way) if not."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM accounts WHERE name = ?", (name.strip(),)).fetchone()
        try:
            _HASHER.verify(row["password"] if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise SignInError("Nom d'utilisateur ou mot de passe incorrect.")
        if _HASHER.check_needs_rehash(row["password"]):
            self.set_password(row["name"], password)
        return Account(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"])
