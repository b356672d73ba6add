"""Personal data in documents: found, checked (checksums), counted and masked — never shown in clear."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import iban as iban_number
from stdnum.fr import nir as nir_number


@dataclass(frozen=True)
class Match:
    kind: str  # nir, iban, phone, email, birth, health
    start: int
    end: int
    masked: str


_NIR = re.compile(
    r"(?<![\dA-Z])[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}\s?\d{2}(?!\d)"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
PHONE_NUMBER = re.compile(r"(?<![\d+])(?:(?:\+|00)33\s?\(?0?\)?\s?[1-9]|0[1-9])(?:[\s.\-]?\d{2}){4}(?!\d)")
EMAIL_ADDRESS = re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b")
_NAME = r"(?:M\.|Mme|Mlle|Monsieur|Madame)\s+[A-ZÉÈ][\w\-']+(?:\s+[A-ZÉÈ][\w\-']+)?"
_BIRTH = re.compile(
    rf"(?:{_NAME}[^.\n]{{0,60}}?)?\bné(?:e)?\s+le\s+\d{{1,2}}(?:er)?[\s/.\-]+(?:\d{{1,2}}|[a-zéû]+)[\s/.\-]+\d{{2,4}}",
    re.IGNORECASE,
)
_PERSON = re.compile(_NAME)
_HEALTH = re.compile(
    r"\b(?:maladie|arrêt maladie|congé de maladie|handicap|invalidité|diagnostic|hospitalis\w+|dépression|"
    r"cancer|grossesse|pathologie|traitement médical|médecin traitant|séropositi\w+|affection de longue durée|"
    r"psychiatr\w+|addiction|alcoolisme)\b",
    re.IGNORECASE,
)
# Functional contact data — a service's mailbox, the switchboard — is not personal data (it names no one).
_FUNCTIONAL_MAILBOX = frozenset(
    [
        "contact",
        "contacts",
        "accueil",
        "mairie",
        "secretariat",
        "secretariat-general",
        "info",
        "infos",
        "information",
        "informations",
        "courrier",
        "courriers",
        "standard",
        "service",
        "services",
        "urbanisme",
        "etat-civil",
        "etatcivil",
        "etat",
        "civil",
        "rh",
        "drh",
        "ressources",
        "humaines",
        "communication",
        "direction",
        "dgs",
        "cabinet",
        "elections",
        "election",
        "cimetiere",
        "cimetieres",
        "police",
        "ccas",
        "social",
        "action-sociale",
        "jeunesse",
        "enfance",
        "ecole",
        "ecoles",
        "periscolaire",
        "cantine",
        "restauration",
        "culture",
        "sport",
        "sports",
        "technique",
        "techniques",
        "travaux",
        "noreply",
        "no-reply",
        "ne-pas-repondre",
        "webmaster",
        "dpo",
        "rgpd",
        "support",
        "assistance",
        "admin",
        "administration",
        "marches",
        "marches-publics",
        "finances",
        "comptabilite",
        "facturation",
        "population",
        "citoyennete",
        "associations",
        "vie",
        "associative",
        "reservation",
        "reservations",
        "mediatheque",
        "bibliotheque",
        "piscine",
        "commune",
        "ville",
        "agglo",
        "recrutement",
        "emploi",
    ]
)
_FUNCTIONAL_PHONE_CONTEXT = re.compile(
    r"\b(?:standard|accueil|mairie|hôtel de ville|secrétariat|secretariat|service|permanence|numéro vert|guichet|"
    r"fax|télécopie|ccas|police municipale)\b",
    re.IGNORECASE,
)


def _functional_email(address: str) -> bool:
    local = address.split("@", 1)[0].lower()
    tokens = [t for t in re.split(r"[.\-_+]", local) if t]
    return local in _FUNCTIONAL_MAILBOX or (
        bool(tokens) and all(token in _FUNCTIONAL_MAILBOX or token.isdigit() for token in tokens)
    )


def _functional_phone(text: str, start: int, number: str) -> bool:
    """A service's number: special-rate 08 numbers, or a landline introduced as the service's, not a person's."""
    digits = re.sub(r"\D", "", number)
    if digits.startswith(("08", "338")):
        return True
    if digits[-9:-8] in {"6", "7"}:  # mobiles are a person's
        return False
    before = text[max(0, start - 60) : start]
    return bool(_FUNCTIONAL_PHONE_CONTEXT.search(before)) and not _PERSON.search(before)


# Sentences, without cutting after « M. » or « Mme. »: the name belongs to the sentence it starts.
_SENTENCES = re.compile(r"(?:\b(?:M|Mme|Mlle|Dr)\.|[^.!?\n])+")
LABELS = {
    "nir": "numéro de sécurité sociale (NIR)",
    "iban": "IBAN",
    "phone": "numéro de téléphone",
    "email": "adresse e-mail",
    "birth": "date de naissance d'une personne",
    "health": "information de santé sur une personne nommée",
}


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Keeps `head` and `tail` significant characters, stars in between (spaces kept for readability)."""
    significant = [i for i, char in enumerate(value) if not char.isspace()]
    keep = set(significant[:head] + (significant[-tail:] if tail else []))
    return "".join(char if i in keep or char.isspace() else "•" for i, char in enumerate(value))


def mask_value(kind: str, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}•••@{domain}"
    if kind == "nir":
        return _keep_ends(value, 1, 0)
    if kind == "iban":
        return _keep_ends(value, 4, 2)
    if kind == "phone":
        return _keep_ends(value, 2, 0)
    if kind == "birth":
        return re.sub(r"\d", "•", _PERSON.sub(lambda m: m.group().split()[0] + " •••", value))
    return value


def find_sensitive(text: str) -> list[Match]:
    found: list[Match] = []
    for match in _NIR.finditer(text):
        if nir_number.is_valid(match.group()):
            found.append(Match("nir", match.start(), match.end(), mask_value("nir", match.group())))
    for match in _IBAN.finditer(text):
        if iban_number.is_valid(match.group()):
            found.append(Match("iban", match.start(), match.end(), mask_value("iban", match.group())))
    taken = [(m.start, m.end) for m in found]
    for match in PHONE_NUMBER.finditer(text):
        if _functional_phone(text, match.start(), match.group()):
            continue
        if not any(start <= match.start() < end for start, end in taken):
            found.append(Match("phone", match.start(), match.end(), mask_value("phone", match.group())))
    for match in EMAIL_ADDRESS.finditer(text):
        if _functional_email(match.group()):
            continue
        found.append(Match("email", match.start(), match.end(), mask_value("email", match.group())))
    for match in _BIRTH.finditer(text):
        if _PERSON.search(match.group()) or _PERSON.search(text[max(0, match.start() - 80) : match.start()]):
            found.append(Match("birth", match.start(), match.end(), mask_value("birth", match.group())))
    for sentence in _SENTENCES.finditer(text):
        piece = sentence.group()
        health = _HEALTH.search(piece)
        if health and _PERSON.search(piece):
            start = sentence.start() + health.start()
            found.append(Match("health", start, sentence.start() + health.end(), health.group()))
    return sorted(found, key=lambda m: m.start)


def mask(text: str) -> str:
    """The text with every personal datum replaced by its masked form (health words stay: they are not identifiers,
    but the names next to them are masked)."""
    found = find_sensitive(text)
    matches = [m for m in found if m.kind != "health"]
    pieces, last = [], 0
    for match in matches:
        if match.start < last:
            continue
        pieces.append(text[last : match.start])
        pieces.append(match.masked)
        last = match.end
    pieces.append(text[last:])
    masked = "".join(pieces)
    # Shapes that fail their checksum are not counted as findings, but are not shown in clear either.
    masked = _NIR.sub(lambda m: mask_value("nir", m.group()), masked)
    masked = _IBAN.sub(lambda m: mask_value("iban", m.group()), masked)
    if any(m.kind == "health" for m in found):
        masked = _PERSON.sub(lambda m: m.group().split()[0] + " •••", masked)
    return masked


def mask_for_keeping(text: str) -> str:
    """What people typed (a question, a comment), as it may be kept: personal data masked as in the report, and the
    people it names too — with a civil title or as the recogniser finds them (« Marie Dupont » → « M••• D••• »)."""
    from sourcier.french import people

    masked = mask(text)
    spans = people(masked) + [(m.start(), m.end()) for m in _PERSON.finditer(masked)]
    for start, end in sorted(spans, reverse=True):
        name = masked[start:end]
        if "•" in name:
            continue
        hidden = " ".join(word if word.rstrip(".") in _TITLES else word[0] + "•••" for word in name.split())
        masked = masked[:start] + hidden + masked[end:]
    return masked


_TITLES = {"M", "Mme", "Mlle", "Monsieur", "Madame"}
