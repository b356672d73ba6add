"""Per-document analyses that need nothing but the document: personal data and text addressed to an AI."""

from __future__ import annotations

from collections import Counter

from quality.findings import SEVERITY_WEIGHT, Finding, FindingType, Place, Severity, excerpt
from quality.inputs import DocumentView
from sourcier.french import plural
from sourcier.injection import find_injections
from sourcier.personal_data import LABELS, find_sensitive, mask

SEVERITY = {  # how urgent each kind of personal datum is to remove
    "nir": Severity.HIGH,
    "iban": Severity.HIGH,
    "health": Severity.HIGH,
    "birth": Severity.MEDIUM,
    "phone": Severity.LOW,
    "email": Severity.LOW,
}


def analyse_sensitive(document: DocumentView) -> list[Finding]:
    counts: Counter[str] = Counter()
    evidence: dict[str, tuple[str, int | None]] = {}
    for chunk in document.chunks:
        for match in find_sensitive(chunk.text):
            counts[match.kind] += 1
            if match.kind not in evidence:
                evidence[match.kind] = (mask(excerpt(chunk.text, match.start)), chunk.page)
    if not counts:
        return []
    # One finding per document: its owner acts on the document once, whatever kinds of data it holds.
    kinds = sorted(counts, key=lambda kind: -SEVERITY_WEIGHT[SEVERITY[kind]])
    return [
        Finding(
            FindingType.SENSITIVE,
            SEVERITY[kinds[0]],
            [Place(document.path, document.title, document.service, evidence[kinds[0]][1])],
            [evidence[kind][0] for kind in kinds],
            "Données personnelles (valeurs masquées) : "
            + ", ".join(f"{plural(counts[kind], 'occurrence')} de {LABELS[kind]}" for kind in kinds)
            + ".",
            "Vérifier que ce document doit être consultable par tous les agents ; sinon l'anonymiser, le "
            "retirer ou l'exclure de la recherche (réglage quality.exclude_sensitive).",
            key="sensitive",
            details={"kinds": {kind: counts[kind] for kind in kinds}},
        )
    ]


def analyse_injection(document: DocumentView) -> list[Finding]:
    # The title and the headings reach the model beside the text (the extract's tag): they are checked too.
    for chunk in document.chunks:
        headings = "\n".join(dict.fromkeys(part for part in (document.title, chunk.section) if part))
        sentences = [detection.sentence for detection in find_injections(f"{headings}\n{chunk.text}")]
        if sentences:
            return [
                Finding(
                    FindingType.INJECTION,
                    Severity.HIGH,
                    [Place(document.path, document.title, document.service, chunk.page, chunk.section)],
                    [mask(excerpt(sentence)) for sentence in sentences[:3]],
                    "Le document contient du texte adressé à un assistant IA (consigne de réponse) : Sourcier "
                    "l'écarte, mais sa présence est suspecte.",
                    "Vérifier l'origine du document et retirer ce passage.",
                    key="injection",
                    details={"count": len(sentences)},
                )
            ]
    return []
