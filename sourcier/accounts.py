"""Local accounts, for a server without an identity provider (identity mode « local »): names, groups and
argon2id password hashes, in the shared database (`sourcier.database`). There is no default account and no default
password: the first admin is created with `sourcier users add NAME --groups <an admin group>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Engine, MetaData, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sourcier.clock import now
from sourcier.database import engine_for
from sourcier.errors import InputError, SignInError
from sourcier.settings import StoreSettings

MIN_PASSWORD = 12  # ANSSI's recommendation for a password alone: 12 characters at least

_ACCOUNTS = Table(
    "accounts",
    MetaData(),
    Column("name", Text, primary_key=True),
    Column("groups", Text),
    Column("password", Text),
    Column("created_at", Text),
)
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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, store: StoreSettings) -> Accounts:
        return cls(engine_for(store))

    def add(self, name: str, password: str, groups: list[str]) -> Account:
        name = check_name(name)
        check_password(password)
        groups = sorted({g.strip() for g in groups if g.strip()})
        account = Account(name, groups, now())
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(_ACCOUNTS).values(
                        name=name,
                        groups=",".join(groups),
                        password=_HASHER.hash(password),
                        created_at=account.created_at,
                    )
                )
        except IntegrityError as error:
            raise InputError(f"Le compte « {name} » existe déjà.") from error
        return account

    def remove(self, name: str) -> None:
        with self.engine.begin() as db:
            if not db.execute(delete(_ACCOUNTS).where(_ACCOUNTS.c.name == name)).rowcount:
                raise InputError(f"Aucun compte « {name} ».")

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        self._update(name, password=_HASHER.hash(password))

    def set_groups(self, name: str, groups: list[str]) -> None:
        self._update(name, groups=",".join(sorted(set(groups))))

    def _update(self, name: str, **values) -> None:
        with self.engine.begin() as db:
            if not db.execute(update(_ACCOUNTS).where(_ACCOUNTS.c.name == name).values(**values)).rowcount:
                raise InputError(f"Aucun compte « {name} ».")

    def list(self) -> list[Account]:
        with self.engine.connect() as db:
            rows = db.execute(select(_ACCOUNTS).order_by(_ACCOUNTS.c.name)).mappings().all()
        return [Account(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"]) for row in rows]

    def get(self, name: str) -> Account | None:
        return next((a for a in self.list() if a.name == name), None)

    def verify(self, name: str, password: str) -> Account:
        """The account, if the password is right; `SignInError` (the same message either way) if not."""
        with self.engine.connect() as db:
            row = db.execute(select(_ACCOUNTS).where(_ACCOUNTS.c.name == name.strip())).mappings().first()
        try:
            _HASHER.verify(row["password"] if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise SignInError("Nom d'utilisateur ou mot de passe incorrect.")
        if _HASHER.check_needs_rehash(row["password"]):
            self.set_password(row["name"], password)
        return Account(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"])
