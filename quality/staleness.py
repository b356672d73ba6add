"""Documents that show their age: an old latest date, amounts in francs, deadlines already past stated as future."""

from __future__ import annotations

import re
from datetime import date

from ingest.dates import find_date
from quality.findings import Finding, FindingType, Place, Severity, excerpt
from quality.inputs import DocumentView
from sourcier.french import plural

_FRANCS = re.compile(r"\d[\d  .,]*\s*(?:francs?\b|FF\b|F\.?\s?F\b)", re.IGNORECASE)
_DEADLINE = re.compile(
    r"(?:avant le|au plus tard le|d'ici le|jusqu'au|à compter du|à partir du)\s+(\d{1,2}(?:er)?\s+\w+\s+\d{4}|"
    r"\d{1,2}/\d{1,2}/\d{4})",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:sera|seront|devra|devront|pourra|pourront|aura|auront|interviendra|prendra|entrera|s'appliquera)\b",
    re.IGNORECASE,
)


def analyse_staleness(document: DocumentView, today: date, max_age_years: int) -> list[Finding]:
    findings = []
    place = Place(document.path, document.title, document.service)
    if document.doc_date and (today - document.doc_date).days > max_age_years * 365:
        findings.append(
            Finding(
                FindingType.STALE,
                Severity.LOW,
                [place],
                [],
                f"Document daté du {document.doc_date:%d/%m/%Y}, il y a plus de {max_age_years} ans.",
                "Vérifier qu'il est toujours à jour ; sinon le mettre à jour ou l'archiver hors du corpus.",
                key="age",
                details={"kind": "age", "date": document.doc_date.isoformat()},
            )
        )
    for chunk in document.chunks:
        francs = _FRANCS.search(chunk.text)
        if francs:
            findings.append(
                Finding(
                    FindingType.STALE,
                    Severity.MEDIUM,
                    [Place(document.path, document.title, document.service, chunk.page, chunk.section)],
                    [excerpt(chunk.text, francs.start())],
                    f"Montant exprimé en francs (« {francs.group().strip()} ») : texte antérieur à 2002.",
                    "Mettre à jour le document (montants en euros, références en vigueur).",
                    key="francs",
                    details={"kind": "francs"},
                )
            )
            break
    for chunk in document.chunks:
        for sentence in re.split(r"(?<=[.!?])\s+", chunk.text):
            deadline = _DEADLINE.search(sentence)
            if not deadline or not _FUTURE.search(sentence):
                continue
            when = find_date(deadline.group(1))
            if when and when < today:
                findings.append(
                    Finding(
                        FindingType.STALE,
                        Severity.MEDIUM,
                        [Place(document.path, document.title, document.service, chunk.page, chunk.section)],
                        [excerpt(sentence)],
                        f"Échéance du {when:%d/%m/%Y} présentée comme à venir alors qu'elle est passée.",
                        "Mettre à jour le passage (nouvelle échéance ou formulation au passé).",
                        key=f"deadline:{when.isoformat()}",
                        details={"kind": "past_deadline", "date": when.isoformat()},
                    )
                )
                return findings
    return findings


def group_old_documents(findings: list[Finding], max_age_years: int) -> list[Finding]:
    """One « old document » finding per service, listing its documents oldest first: one cause, one line to act on
    (a finding per fiche buried everything else under dozens of identical lines)."""
    old = [f for f in findings if f.type == FindingType.STALE and f.details.get("kind") == "age"]
    if not old:
        return findings
    by_service: dict[str, list[Finding]] = {}
    for finding in old:
        by_service.setdefault(finding.places[0].service, []).append(finding)
    grouped = []
    for service, members in sorted(by_service.items()):
        members.sort(key=lambda f: f.details["date"])
        oldest = date.fromisoformat(members[0].details["date"])
        grouped.append(
            Finding(
                FindingType.STALE,
                Severity.LOW,
                [member.places[0] for member in members],
                [
                    f"{_name(m.places[0])} — daté du {date.fromisoformat(m.details['date']):%d/%m/%Y}"
                    for m in members[:20]
                ],
                f"{plural(len(members), 'document', 'documents')} du service « {service or 'général'} » "
                f"{'date' if len(members) == 1 else 'datent'} de plus de {max_age_years} ans "
                f"(le plus ancien du {oldest:%d/%m/%Y}).",
                "Vérifier qu'ils sont toujours à jour ; mettre à jour ou archiver hors du corpus ceux qui ne le "
                "sont plus.",
                key=f"age:{service}",
                details={"kind": "age", "documents": [m.places[0].path for m in members]},
            )
        )
    return [f for f in findings if not (f.type == FindingType.STALE and f.details.get("kind") == "age")] + grouped


def _name(place: Place) -> str:
    return place.title or place.path
