"""Read the question before retrieval, without a model: is it a follow-up, and what specifics does it ask about.

A follow-up (« Et pour un étudiant ? », « Combien de temps dure-t-elle ? ») is retrieved together with the
question it follows: no rewrite by a model that could turn it into something else. The specifics of a question
(named places and organisations, years, relative dates) must be found in the passages that would answer it; when
they are not, the answer says what the documents lack before it gives any general rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sourcier.french import content_terms, fold

# Words that only make sense with what was said before (« -il » left out: « faut-il », « y a-t-il » are impersonal).
_FOLLOW_UP_START = re.compile(
    r"^(et|mais|sinon|alors|ou|aussi|même|dans ce cas|dans le cas|pour|si|en cas|quid|est-ce pareil|pareil)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(
    r"(-t-(elle|ils|elles)\b|-(elle|ils|elles)\b|\b(ça|cela|celui-ci|celle-ci|ceux-ci|ce cas|cette démarche"
    r"|ce document|ce délai|ce dossier|ce formulaire|cette aide|cette procédure|y a-t-il droit|en bénéficier|"
    r"la faire|le faire|les faire|l'obtenir|le demander|la demander|les demander)\b)",
    re.IGNORECASE,
)
FEW_TERMS = 3  # « Et le délai ? »: too little to be searched on its own

# A proper name: a capitalised word (hyphenated parts allowed) not opening the question, possibly several in a row
# joined by « de », « du », « sur »... (« Saint-Denis », « Boulogne-sur-Mer », « Villeneuve d'Ascq »).
_NAME = re.compile(
    r"(?<!^)(?<![.!?]\s)\b((?:[A-ZÀ-Ý][\w'’-]*[a-zà-ÿ][\w'’-]*)(?:\s+(?:de|du|des|d'|sur|en|la|le|les)?\s*"
    r"[A-ZÀ-Ý][\w'’-]*)*)"
)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_RELATIVE_DATE = re.compile(
    r"\b((?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|semaine|mois|week-end)\s+prochaine?"
    r"|(?:la\s+)?semaine\s+prochaine|demain|après-demain|aujourd'hui|ce\s+soir|cette\s+semaine|ce\s+week-end"
    r"|(?:le\s+)?prochaine?\s+(?:conseil(?:\s+municipal)?|réunion|séance|fermeture|ouverture|date))\b",
    re.IGNORECASE,
)
# Capitalised words that name no specific place or body: the documents need not repeat them.
_GENERIC_NAMES = {
    fold(name) for name in ("France", "Français", "Française", "État", "République", "Mairie", "Internet")
}


@dataclass(frozen=True)
class Specific:
    text: str  # as the agent wrote it
    relative_date: bool = False  # « lundi prochain »: no document can hold it


def is_follow_up(question: str) -> bool:
    stripped = question.strip()
    return bool(
        _FOLLOW_UP_START.match(stripped) or _ANAPHORA.search(stripped) or len(content_terms(stripped)) <= FEW_TERMS
    )


def retrieval_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    """What is searched for: a follow-up with the question it follows (the latest one that was not itself a
    follow-up, so that « Et pour … ? » twice in a row still knows the subject)."""
    if not history or not is_follow_up(question):
        return question
    previous = [asked for asked, _ in history]
    topic = next((asked for asked in reversed(previous) if not is_follow_up(asked)), previous[-1])
    return f"{topic} {question}"


def specifics(question: str) -> list[Specific]:
    found: list[Specific] = []
    for match in _NAME.finditer(question):
        name = match.group(1).strip(" '’-")
        # « … dans l'intérêt des familles (Rif) »: the question's own abbreviation of what it just said (a place in
        # brackets, « (Pas-de-Calais) », is still a specific).
        in_brackets = question[: match.start(1)].rstrip().endswith("(") and question[match.end(1) :].startswith(")")
        glossed = in_brackets and len(name) <= 6 and not re.search(r"[\s-]", name)
        if fold(name) not in _GENERIC_NAMES and len(name) >= 3 and not glossed:
            found.append(Specific(name))
    found += [Specific(year) for year in _YEAR.findall(question)]
    found += [Specific(m.group(1), relative_date=True) for m in _RELATIVE_DATE.finditer(question)]
    return found


def missing_specifics(question: str, passages: Iterable[str]) -> list[Specific]:
    """The question's specifics that no passage mentions (accents, case and separators aside: « Alsace Moselle »
    is found in « Alsace-Moselle »)."""
    text = " ".join(plain(passage) for passage in passages)
    return [s for s in specifics(question) if s.relative_date or plain(s.text) not in text]


def plain(text: str) -> str:
    """Folded, with separators as one space: how a specific is looked for in a passage."""
    return _SEPARATORS.sub(" ", fold(text))


_SEPARATORS = re.compile(r"[\s'’-]+")


LACK_PREFIX = "Les documents disponibles ne mentionnent"


def lack_sentence(missing: Sequence[Specific]) -> str:
    """« Les documents disponibles ne mentionnent pas « Béthune ». » — said before any general rule."""
    quoted = [f"« {s.text} »" for s in missing]
    if len(quoted) == 1:
        return f"{LACK_PREFIX} pas {quoted[0]}."
    return f"{LACK_PREFIX} ni {', ni '.join(quoted[:-1])} ni {quoted[-1]}."
