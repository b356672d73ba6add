"""Local accounts, for a server without an identity provider (identity mode « local »): names, groups and
argon2id password hashes, in the shared database (`sourcier.database`). There is no default account and no default
password: the first admin is created with `sourcier users add NAME --groups <an admin group>`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
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


class SignInThrottle:
    """Slows down password guessing, and keeps sign-in from exhausting memory (each try is a 64 MiB argon2 hash).

    After `free_failures` wrong tries for one name, that name is refused without hashing for a delay that doubles
    with each further failure (30 s, 1 min, 2 min… up to 15 min); a success clears it. At most `concurrent` hashes
    run at once in this process; a try beyond them waits a little, then is refused « réessayez ». Names are kept in
    a bounded table (the oldest forgotten first), so that inventing names cannot grow it."""

    def __init__(
        self, free_failures: int = 5, first_delay_s: float = 30, max_delay_s: float = 900, concurrent: int = 2,
        clock=time.monotonic, remembered: int = 10_000,
    ) -> None:  # fmt: skip
        self.free_failures, self.first_delay_s, self.max_delay_s = free_failures, first_delay_s, max_delay_s
        self.clock, self.remembered = clock, remembered
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # name → (failures, refused until)
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(concurrent)

    def check(self, name: str) -> None:
        with self._lock:
            _, until = self._failures.get(name, (0, 0.0))
        wait = until - self.clock()
        if wait > 0:
            minutes = max(1, round(wait / 60))
            raise SignInError(
                f"Trop de tentatives de connexion pour ce compte : réessayez dans {minutes} minute"
                f"{'s' if minutes > 1 else ''}."
            )

    def failed(self, name: str) -> None:
        with self._lock:
            failures = self._failures.pop(name, (0, 0.0))[0] + 1
            extra = failures - self.free_failures
            delay = min(self.first_delay_s * 2 ** (extra - 1), self.max_delay_s) if extra > 0 else 0.0
            self._failures[name] = (failures, self.clock() + delay)
            while len(self._failures) > self.remembered:
                self._failures.popitem(last=False)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    @contextlib.contextmanager
    def hashing(self) -> Iterator[None]:
        """A slot to hash in; `SignInError` when the server is already hashing as much as it may."""
        if not self._hashing.acquire(timeout=5):
            raise SignInError("Le serveur traite déjà plusieurs connexions : réessayez dans quelques secondes.")
        try:
            yield
        finally:
            self._hashing.release()


THROTTLE = SignInThrottle()  # one per process: the app's sign-in form, the CLI's --as


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

    def verify(self, name: str, password: str, throttle: SignInThrottle = THROTTLE) -> Account:
        """The account, if the password is right; `SignInError` (the same message either way) if not, or when the
        name has failed too often lately (then without hashing)."""
        name = name.strip()
        throttle.check(name)
        with self.engine.connect() as db:
            row = db.execute(select(_ACCOUNTS).where(_ACCOUNTS.c.name == name)).mappings().first()
        with throttle.hashing():
            try:
                _HASHER.verify(row["password"] if row else _DUMMY, password)
            except (VerificationError, InvalidHashError):
                row = None
        if row is None:
            throttle.failed(name)
            raise SignInError("Nom d'utilisateur ou mot de passe incorrect.")
        throttle.succeeded(name)
        if _HASHER.check_needs_rehash(row["password"]):
            self.set_password(row["name"], password)
        return Account(row["name"], [g for g in row["groups"].split(",") if g], row["created_at"])
