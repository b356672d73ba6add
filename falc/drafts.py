"""Drafts kept per owner and document, so that editing survives a reload; a validated draft is what is exported."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import Column, Engine, MetaData, Table, Text, delete, select

from falc.rewrite import Draft, Passage, Section
from sourcier.clock import now
from sourcier.database import engine_for, put
from sourcier.errors import InputError
from sourcier.french import plural
from sourcier.settings import StoreSettings

_DRAFTS = Table(
    "falc_drafts",
    MetaData(),
    Column("owner", Text, primary_key=True),
    Column("document", Text, primary_key=True),
    Column("updated_at", Text),
    Column("draft", Text),
)


def to_dict(draft: Draft) -> dict:
    return asdict(draft)


def from_dict(data: dict) -> Draft:
    sections = [
        Section(s["title"], [Passage(**p) for p in s["passages"]], s.get("page")) for s in data.get("sections", [])
    ]
    return Draft(
        data["title"],
        data["name"],
        sections,
        data.get("model", ""),
        data.get("validated", False),
        list(data.get("notes", [])),
    )


def validate(draft: Draft) -> None:
    """Mark the draft validated; refused while a passage loses or adds a fact, loses a condition or changes its logic,
    or was left as its source."""
    problems = [p for p in draft.passages if not p.check().ok]
    unwritten = [p for p in draft.passages if p.to_rewrite]
    changed = [p for p in draft.passages if not p.meaning().ok]
    if problems:
        verb = "perdent ou ajoutent" if len(problems) > 1 else "perd ou ajoute"
        raise InputError(
            f"Validation impossible : {plural(len(problems), 'passage')} {verb} une information (chiffre, date, "
            "adresse). Corrigez le brouillon puis vérifiez à nouveau."
        )
    if changed:
        verb = "perdent" if len(changed) > 1 else "perd"
        raise InputError(
            f"Validation impossible : {plural(len(changed), 'passage')} {verb} une condition du document ou en "
            "change la logique (qui, où, quand, sauf, et, ou). Rétablissez-la, ou confirmez qu'elle est gardée."
        )
    if unwritten:
        verb = "contiennent" if len(unwritten) > 1 else "contient"
        raise InputError(
            f"Validation impossible : {plural(len(unwritten), 'passage')} {verb} encore du texte d'origine à "
            "simplifier : réécrivez-le en FALC."
        )
    draft.validated = True


class DraftStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, store: StoreSettings) -> DraftStore:
        return cls(engine_for(store))

    def save(self, owner: str, document: str, draft: Draft) -> None:
        values = {"updated_at": now(), "draft": json.dumps(to_dict(draft), ensure_ascii=False)}
        with self.engine.begin() as db:
            put(db, _DRAFTS, {"owner": owner, "document": document}, values)

    def load(self, owner: str, document: str) -> Draft | None:
        query = select(_DRAFTS.c.draft).where(_DRAFTS.c.owner == owner, _DRAFTS.c.document == document)
        with self.engine.connect() as db:
            draft = db.execute(query).scalar()
        return from_dict(json.loads(draft)) if draft else None

    def delete(self, owner: str, document: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(_DRAFTS).where(_DRAFTS.c.owner == owner, _DRAFTS.c.document == document))
