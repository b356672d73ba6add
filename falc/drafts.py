"""Drafts kept per owner and document, so that editing survives a reload; a validated draft is what is exported."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from falc.rewrite import Draft, Passage, Section
from sourcier import sqlite
from sourcier.errors import InputError
from sourcier.french import plural
from sourcier.layout import StoreLayout

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    owner TEXT NOT NULL,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    draft TEXT NOT NULL,
    PRIMARY KEY (owner, document)
);
"""


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
    """Mark the draft validated; refused while a passage loses or adds a fact, or was left as its source."""
    problems = [p for p in draft.passages if not p.check().ok]
    unwritten = [p for p in draft.passages if p.to_rewrite]
    if problems:
        verb = "perdent ou ajoutent" if len(problems) > 1 else "perd ou ajoute"
        raise InputError(
            f"Validation impossible : {plural(len(problems), 'passage')} {verb} une information (chiffre, date, "
            "adresse). Corrigez le brouillon puis vérifiez à nouveau."
        )
    if unwritten:
        verb = "contiennent" if len(unwritten) > 1 else "contient"
        raise InputError(
            f"Validation impossible : {plural(len(unwritten), 'passage')} {verb} encore du texte d'origine à "
            "simplifier : réécrivez-le en FALC."
        )
    draft.validated = True


class DraftStore:
    def __init__(self, path: Path) -> None:
        self.path = sqlite.create(path, _SCHEMA)

    @classmethod
    def of(cls, layout: StoreLayout) -> DraftStore:
        return cls(layout.falc_drafts)

    def save(self, owner: str, document: str, draft: Draft) -> None:
        with sqlite.connect(self.path) as db:
            db.execute(
                "INSERT OR REPLACE INTO drafts VALUES (?,?,?,?)",
                (
                    owner,
                    document,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    json.dumps(to_dict(draft), ensure_ascii=False),
                ),
            )

    def load(self, owner: str, document: str) -> Draft | None:
        with sqlite.connect(self.path) as db:
            row = db.execute("SELECT draft FROM drafts WHERE owner=? AND document=?", (owner, document)).fetchone()
        return from_dict(json.loads(row[0])) if row else None

    def delete(self, owner: str, document: str) -> None:
        with sqlite.connect(self.path) as db:
            db.execute("DELETE FROM drafts WHERE owner=? AND document=?", (owner, document))
