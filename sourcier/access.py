"""Who may read what: the access policy (groups → services), roles, and the reader every read of the index is for.

The policy is one TOML file (`access.policy` in the settings):

    everyone = "tous"                       # the group every signed-in user is in
    admins = ["dsi"]                        # groups whose members administer Sourcier (and read everything)

    [services]                              # the corpus's first folder level → the groups that may read it
    fiches-publiques = ["tous"]
    rh = ["rh", "dgs"]
    etat-civil = ["etat-civil"]

    [referents]                             # the groups that answer for a service's documents
    rh = ["rh-referents"]

    [documents]                             # one document readable otherwise than its service
    "rh/organigramme.pdf" = ["tous"]

    [users]                                 # groups of users whose identity provider sends none
    "marie.dupont@mairie.fr" = ["rh"]

A document may also carry its own groups in a sidecar `<file>.acces.toml` (`groupes = ["rh"]`), which wins over both
tables. A service listed nowhere is readable by admins only: the policy fails closed. Every chunk carries the groups
that may read it (metadata `access`, written at ingestion, updated by `sourcier access apply` without re-embedding);
`Reader.clause()` is what the live index ANDs into every read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from sourcier.errors import ConfigurationError

ACCESS_KEY = "access"  # the chunk metadata holding the groups that may read it
ADMINS_ONLY = "@admins"  # the only group of a chunk no policy entry opens: admins read it, nobody else
SIDECAR_SUFFIX = ".acces.toml"
RESERVED = "@"  # groups Sourcier writes itself start with it; no identity may claim one


def referents_group(service: str) -> str:
    """The group every chunk of a service carries for its referents: they read what they answer for."""
    return f"{RESERVED}referents:{service}"


class Role(StrEnum):
    AGENT = "agent"  # asks, reads the sources they may read
    REFERENT = "referent"  # also the findings, feedback and gaps of their services; uploads into them
    ADMIN = "admin"  # ingestion, exclusions, users, policy, audit; reads everything

    @property
    def label(self) -> str:
        return {Role.AGENT: "agent", Role.REFERENT: "référent", Role.ADMIN: "administrateur"}[self]


def name_claim(claims: dict, names: Sequence[str]) -> str | None:
    """The user's name from an OIDC token's claims: the first of `names` present. An e-mail counts only when the
    provider says it verified it (`email_verified`): where users may edit their e-mail, one could otherwise take
    another's name — their groups in the policy's [users] table, their conversations and drafts."""
    for claim in names:
        value = claims.get(claim)
        verified = str(claims.get("email_verified")).lower() == "true"  # some providers send the string
        if not value or (claim == "email" and not verified):
            continue
        return str(value)
    return None


def groups_claim(value) -> list[str]:
    """The groups an identity sends (an OIDC claim, a proxy header): a list, or one string separated by commas."""
    if isinstance(value, str):
        return [g.strip() for g in value.replace(";", ",").split(",") if g.strip()]
    if isinstance(value, list | tuple):
        return [str(g).strip() for g in value if str(g).strip()]
    return []


@dataclass(frozen=True)
class Reader:
    """Someone (or something) reading the index: the user's name, groups and what they answer for."""

    name: str
    groups: frozenset[str] = frozenset()
    role: Role = Role.AGENT
    referent_of: frozenset[str] = frozenset()  # services
    demo: bool = False  # no identity configured: the labelled demo mode

    @classmethod
    def system(cls, purpose: str = "système") -> Reader:
        """Sourcier itself (ingestion, the report's analysis, evaluations): reads every document."""
        return cls(name=purpose, role=Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def clause(self) -> dict | None:
        """The `where` clause of what this reader may read (None: everything)."""
        if self.is_admin:
            return None
        groups = sorted(self.groups)
        if not groups:  # nothing to match: a clause no chunk satisfies
            return {ACCESS_KEY: {"$contains": "@nobody"}}
        clauses = [{ACCESS_KEY: {"$contains": group}} for group in groups]
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}

    def may_read(self, groups: set[str] | frozenset[str] | list[str]) -> bool:
        return self.is_admin or bool(self.groups & set(groups))

    def answers_for(self, service: str) -> bool:
        """May see the quality findings, feedback and gaps of `service`, and upload into it."""
        return self.is_admin or service in self.referent_of

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role.label})"

    def to_dict(self) -> dict:
        """Who this is, for a process started on their behalf (which recomputes the rights from the policy)."""
        return {"name": self.name, "groups": sorted(self.groups), "demo": self.demo}


@dataclass(frozen=True)
class AccessPolicy:
    everyone: str = "tous"
    admins: frozenset[str] = frozenset({"admins"})
    services: dict[str, frozenset[str]] = field(default_factory=dict)
    referents: dict[str, frozenset[str]] = field(default_factory=dict)
    documents: dict[str, frozenset[str]] = field(default_factory=dict)
    users: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> AccessPolicy:
        """No policy file: every document is readable by admins only (fail closed)."""
        if path is None or not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"Fichier de droits d'accès illisible ({path}) : {error}") from error
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "la politique d'accès") -> AccessPolicy:
        known = {"everyone", "admins", "services", "referents", "documents", "users"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"Clé inconnue dans {where} : {', '.join(unknown)} (attendues : {', '.join(sorted(known))})."
            )

        def groups(value, key: str) -> frozenset[str]:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(g, str) and g.strip() for g in value):
                raise ConfigurationError(f"Dans {where}, « {key} » doit être une liste de noms de groupes.")
            return frozenset(g.strip() for g in value)

        def table(name: str) -> dict[str, frozenset[str]]:
            value = data.get(name, {})
            if not isinstance(value, dict):
                raise ConfigurationError(f"Dans {where}, [{name}] doit être une table.")
            return {str(key).strip("/"): groups(v, f"{name}.{key}") for key, v in value.items()}

        everyone = data.get("everyone", "tous")
        if not isinstance(everyone, str) or not everyone.strip():
            raise ConfigurationError(f"Dans {where}, « everyone » doit être un nom de groupe.")
        return cls(
            everyone=everyone.strip(),
            admins=groups(data.get("admins", ["admins"]), "admins"),
            services=table("services"),
            referents=table("referents"),
            documents=table("documents"),
            users=table("users"),
        )

    # --- documents -----------------------------------------------------------------------------------

    def document_groups(self, relative_path: str, corpus_dir: Path | None = None) -> list[str]:
        """The groups that may read a document (its chunks' `access` metadata), sorted: those of its sidecar, else of
        its [documents] entry, else of its service; the service's referents too; admins only when nothing opens
        it."""
        path = PurePosixPath(relative_path).as_posix()
        service = path.split("/", 1)[0] if "/" in path else ""
        sidecar = _sidecar_groups(corpus_dir / path) if corpus_dir is not None else None
        if sidecar is not None:
            chosen = sidecar
        elif path in self.documents:
            chosen = self.documents[path]
        else:
            chosen = self.services.get(service, frozenset())
        if chosen and service in self.referents:
            chosen = chosen | {referents_group(service)}
        return sorted(chosen) or [ADMINS_ONLY]

    # --- people --------------------------------------------------------------------------------------

    def reader(self, name: str, groups: set[str] | frozenset[str] | list[str] = (), demo: bool = False) -> Reader:
        """The reader for a signed-in user with the groups their identity gives (or, when it gives none, the
        policy's [users] table)."""
        own = set(groups) or set(self.users.get(name, ()))
        # A provider's group named like one of Sourcier's own (« @admins ») would open what no policy opened.
        own = {group for group in own if not group.startswith(RESERVED)} | {self.everyone}
        referent_of = frozenset(s for s, referents in self.referents.items() if own & referents)
        own |= {referents_group(service) for service in referent_of}
        role = Role.ADMIN if own & self.admins else Role.REFERENT if referent_of else Role.AGENT
        return Reader(name=name, groups=frozenset(own), role=role, referent_of=referent_of, demo=demo)

    @property
    def known_services(self) -> list[str]:
        return sorted(set(self.services) | set(self.referents))


def _sidecar_groups(document: Path) -> frozenset[str] | None:
    sidecar = document.with_name(document.name + SIDECAR_SUFFIX)
    try:
        # A link is never followed (it could point outside the corpus): the policy applies, and the discovery
        # reports the link. A name too long to take the suffix has no sidecar (ENAMETOOLONG).
        if sidecar.is_symlink() or not sidecar.is_file():
            return None
    except OSError:
        return None
    try:
        data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return frozenset()  # an unreadable sidecar opens nothing: admins only
    value = data.get("groupes", data.get("groups", []))
    if isinstance(value, str):
        value = [value]
    return frozenset(g.strip() for g in value if isinstance(g, str) and g.strip())


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX)
