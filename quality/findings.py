"""A finding: what is wrong, where, the evidence, why it matters and what to do — in French, for document owners."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

# type → (label, order in the report)
TYPES = {
    "extraction": "Extraction du texte",
    "duplicate": "Doublon",
    "superseded": "Version périmée",
    "stale": "Document ancien ou daté",
    "contradiction": "Contradiction",
    "sensitive": "Données personnelles",
    "injection": "Instruction adressée à une IA",
    "gap": "Question sans réponse",
}
SEVERITIES = {"high": "élevée", "medium": "moyenne", "low": "faible"}
SEVERITY_WEIGHT = {"high": 5, "medium": 2, "low": 1}
STATUSES = {"nouveau": "nouveau", "vu": "vu", "corrige": "corrigé", "faux_positif": "faux positif"}


@dataclass
class Place:
    path: str
    title: str = ""
    service: str = ""
    page: int | None = None
    section: str | None = None

    def label(self) -> str:
        where = f", page {self.page}" if self.page else (f", section « {self.section} »" if self.section else "")
        return f"{self.title or self.path}{where}"


@dataclass
class Finding:
    type: str
    severity: str
    places: list[Place]
    evidence: list[str]  # excerpts, already masked
    explanation: str
    action: str
    key: str  # what makes this finding the same one next run (with type and paths)
    details: dict = field(default_factory=dict)
    id: str = ""
    status: str = "nouveau"

    def __post_init__(self) -> None:
        if not self.id:
            paths = "|".join(sorted({place.path for place in self.places}))
            self.id = hashlib.sha1(f"{self.type}|{paths}|{self.key}".encode()).hexdigest()[:12]

    @property
    def services(self) -> list[str]:
        return sorted({place.service for place in self.places if place.service})

    def to_dict(self) -> dict:
        data = asdict(self)
        data["type_label"] = TYPES[self.type]
        data["severity_label"] = SEVERITIES[self.severity]
        data["status_label"] = STATUSES.get(self.status, self.status)
        return data


def excerpt(text: str, around: int | None = None, width: int = 240) -> str:
    """A short piece of text, centred on `around` when given."""
    text = " ".join(text.split())
    if around is None or len(text) <= width:
        return text[:width] + ("…" if len(text) > width else "")
    start = max(0, around - width // 2)
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")
