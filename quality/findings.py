"""A finding: what is wrong, where, the evidence, why it matters and what to do — in French, for document owners."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from sourcier.french import location


class FindingType(StrEnum):
    """In the order the report lists them."""

    EXTRACTION = "extraction"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    STALE = "stale"
    CONTRADICTION = "contradiction"
    SENSITIVE = "sensitive"
    INJECTION = "injection"
    GAP = "gap"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingStatus(StrEnum):
    """What an owner said of a finding; the values are what `sourcier mark` takes."""

    NEW = "nouveau"
    SEEN = "vu"
    FIXED = "corrige"
    FALSE_POSITIVE = "faux_positif"


# French labels, kept apart from the identifiers (the report's JSON keeps the identifiers).
TYPES = {
    FindingType.EXTRACTION: "Extraction du texte",
    FindingType.DUPLICATE: "Doublon",
    FindingType.SUPERSEDED: "Version périmée",
    FindingType.STALE: "Document ancien ou daté",
    FindingType.CONTRADICTION: "Contradiction",
    FindingType.SENSITIVE: "Données personnelles",
    FindingType.INJECTION: "Instruction adressée à une IA",
    FindingType.GAP: "Question sans réponse",
}
SEVERITIES = {Severity.HIGH: "élevée", Severity.MEDIUM: "moyenne", Severity.LOW: "faible"}
SEVERITY_WEIGHT = {Severity.HIGH: 5, Severity.MEDIUM: 2, Severity.LOW: 1}
STATUSES = {
    FindingStatus.NEW: "nouveau",
    FindingStatus.SEEN: "vu",
    FindingStatus.FIXED: "corrigé",
    FindingStatus.FALSE_POSITIVE: "faux positif",
}


@dataclass
class Place:
    path: str
    title: str = ""
    service: str = ""
    page: int | None = None
    section: str | None = None

    def label(self) -> str:
        where = location(self.page, self.section)
        return f"{self.title or self.path}{', ' + where if where else ''}"


@dataclass
class Finding:
    type: FindingType
    severity: Severity
    places: list[Place]
    evidence: list[str]  # excerpts, already masked
    explanation: str
    action: str
    key: str  # what makes this finding the same one next run (with type and paths)
    details: dict = field(default_factory=dict)
    id: str = ""
    status: FindingStatus = FindingStatus.NEW

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
