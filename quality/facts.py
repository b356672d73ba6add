"""Facts stated in a text: a figure, its unit and the words around it — what two statements can disagree on.

« 4 jours fixes par mois dans la limite de 1 jour par semaine » gives (4, jour/mois) and (1, jour/semaine), each with
its context terms. Two facts are about the same thing when they have the same unit and enough context in common.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sourcier.french import content_terms, fold

_WORD_NUMBERS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20,
    "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100, "mille": 1000,
}  # fmt: skip
_UNITS = {
    "€": "€", "euro": "€", "euros": "€", "eur": "€", "franc": "francs", "francs": "francs", "ff": "francs",
    "%": "%", "pour cent": "%", "p. 100": "%",
    "jour": "jour", "jours": "jour", "journee": "jour", "journees": "jour", "semaine": "semaine",
    "semaines": "semaine", "mois": "mois", "an": "an", "ans": "an", "annee": "an", "annees": "an",
    "heure": "heure", "heures": "heure", "h": "heure", "minute": "minute", "minutes": "minute",
    "habitant": "habitant", "habitants": "habitant", "membre": "membre", "membres": "membre",
    "conseiller": "conseiller", "conseillers": "conseiller", "agent": "agent", "agents": "agent",
    "enfant": "enfant", "enfants": "enfant", "km": "km", "kilometres": "km", "m2": "m²", "m²": "m²",
}  # fmt: skip
_RATE = re.compile(r"^\s*(?:\w+\s+){0,2}?par\s+(jour|semaine|mois|an|annee)\b")
_NUMBER = r"\d{1,3}(?:[  .]\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_WORDS = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
_UNIT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_FACT = re.compile(
    rf"(?<![\w.,])(?:d')?(?P<value>{_NUMBER}|(?:{_WORDS}))\s*(?:(?:jours?\s+)?(?:ouvres|ouvrables|francs|"
    rf"calendaires|fixes?)\s+)?(?P<unit>{_UNIT})(?![\w])"
)
_SENTENCE = re.compile(r"[^.;!?\n]+")
_MAXIMUM = re.compile(r"\b(?:maximum|max|limite|exceder|plus|plafond|jusqu|au plus)\b")
_MINIMUM = re.compile(r"\b(?:minimum|moins|au moins|inferieur|plancher)\b")
# Words that precede any amount: sharing them says nothing about the quantity being the same.
_GENERIC_LEAD = {"mont", "montant", "soit", "total", "somm", "hauteur", "environ", "cout", "prix", "part", "dont"}
_UNIT_TERMS = {"jour", "semain", "mois", "an", "anne", "heur", "minut", "euros", "euro", "franc", "habit", "fix", "par"}


@dataclass(frozen=True)
class Fact:
    value: float
    unit: str
    text: str  # the figure as written, with its unit
    bound: str  # "max", "min" or ""
    context: frozenset[str]
    lead: frozenset[str]  # the words just before the figure: « durée de », « limité à »
    sentence: str
    start: int  # offset of the sentence in the source text

    def same_subject(self, other: Fact) -> bool:
        """Same quantity: same unit, and either the same kind of limit in similar sentences, or the same words
        just before the figure in very similar sentences."""
        if self.unit != other.unit:
            return False
        shared = len(self.context & other.context)
        jaccard = shared / (len(self.context | other.context) or 1)
        if self.bound and other.bound:
            return self.bound == other.bound and shared >= 3 and jaccard >= 0.25
        return bool(self.lead & other.lead) and shared >= 3 and jaccard >= 0.35


def _value(raw: str) -> float | None:
    raw = raw.lower()
    if raw in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[raw])
    try:
        return float(re.sub(r"[  .]", "", raw).replace(",", "."))
    except ValueError:
        return None


def extract_facts(text: str) -> list[Fact]:
    facts = []
    for sentence_match in _SENTENCE.finditer(text):
        sentence = sentence_match.group().strip()
        folded = fold(sentence)
        # Offsets must map back to the sentence: if folding changed lengths (ligatures), use lower case instead.
        folded_view = folded if len(folded) == len(sentence) else sentence.lower()
        sentence_terms = frozenset(
            term
            for term in content_terms(folded_view)
            if not term[0].isdigit() and term not in _UNIT_TERMS and term not in _WORD_NUMBERS
        )
        for match in _FACT.finditer(folded_view):
            value = _value(match.group("value"))
            if value is None:
                continue
            unit = _UNITS.get(match.group("unit").lower(), match.group("unit"))
            end = match.end()
            rate = _RATE.match(folded_view[match.end() :])
            if rate:
                unit = f"{unit}/{_UNITS.get(rate.group(1), rate.group(1))}"
                end += rate.end()
            before = folded_view[max(0, match.start() - 90) : match.start()]
            bound = "max" if _MAXIMUM.search(before[-40:]) else "min" if _MINIMUM.search(before[-40:]) else ""
            context = sentence_terms  # the sentence says what the figure is about
            facts.append(
                Fact(
                    value=value,
                    unit=unit,
                    text=sentence[match.start() : end].strip(),
                    bound=bound,
                    context=context,
                    lead=frozenset(
                        t for t in content_terms(before[-40:]) if not t[0].isdigit() and t not in _GENERIC_LEAD
                    ),
                    sentence=sentence,
                    start=sentence_match.start(),
                )
            )
    return facts


def conflicting_facts(first: list[Fact], second: list[Fact]) -> list[tuple[Fact, Fact]]:
    """Pairs about the same subject with different figures — unless each text also states the other figure in the
    same role (then they list the same options rather than disagree). « 1 jour fixe » inside « ne peut excéder 2 jours
    dont 1 jour fixe » is not the same role as « limité à 1 jour »: the kind of limit is part of the role."""
    stated_first = {(fact.unit, fact.value, fact.bound) for fact in first}
    stated_second = {(fact.unit, fact.value, fact.bound) for fact in second}
    pairs = []
    seen = set()
    for a in first:
        if (a.unit, a.value, a.bound) in stated_second:
            continue
        for b in second:
            if b.value == a.value or (b.unit, b.value, b.bound) in stated_first:
                continue
            if a.same_subject(b) and (a.value, b.value, a.unit) not in seen:
                seen.add((a.value, b.value, a.unit))
                pairs.append((a, b))
    return pairs


_POLARITY = [
    (re.compile(r"\b(?:autorise|autorisee|autorises|permis|possible)\b"),
     re.compile(r"\b(?:interdit|interdite|interdits|prohibe|impossible)\b")),
    (re.compile(r"\b(?:obligatoire|obligatoires|obligatoirement|impose)\b"),
     re.compile(r"\b(?:facultatif|facultative|facultatifs|optionnel|optionnelle)\b")),
]  # fmt: skip


def opposite_statements(first: str, second: str, min_jaccard: float = 0.5) -> list[tuple[str, str]]:
    """Sentences about the same thing where one says « autorisé »/« obligatoire » and the other the opposite."""
    pairs = []
    sentences_a = [s.strip() for s in _SENTENCE.findall(first) if len(s.strip()) > 20]
    sentences_b = [s.strip() for s in _SENTENCE.findall(second) if len(s.strip()) > 20]
    for positive, negative in _POLARITY:
        for a in sentences_a:
            fa = fold(a)
            a_pos, a_neg = bool(positive.search(fa)), bool(negative.search(fa))
            if a_pos == a_neg:
                continue
            terms_a = set(content_terms(positive.sub("", negative.sub("", fa))))
            for b in sentences_b:
                fb = fold(b)
                b_pos, b_neg = bool(positive.search(fb)), bool(negative.search(fb))
                if b_pos in (b_neg, a_pos):  # no polarity, or the same one
                    continue
                terms_b = set(content_terms(positive.sub("", negative.sub("", fb))))
                union = terms_a | terms_b
                if union and len(terms_a & terms_b) / len(union) >= min_jaccard:
                    pairs.append((a, b))
    return pairs


# --- the same statement, restated with another figure ---------------------------------------------------------
# A stale local copy (a memo, a desk guide) repeats the wording of a rule with the figure of an older version. Two
# sentences are one statement when their words, figures aside, are the same but for at most `MAX_CHANGED_TERMS`:
# « Le montant de l'aide de la CAF de l'Ain est de 160 € » and « … de la CAF de l'Ardèche … 300 € » differ in two
# words (Ain, Ardèche): two statements about two things, not a contradiction.
MAX_CHANGED_TERMS = 1
MIN_SHARED_TERMS = 4  # « 3 mois » alone, or « soit 200 € », says too little to be one statement


@dataclass(frozen=True)
class Statement:
    sentence: str
    terms: frozenset[str]  # content words, figures and units aside
    facts: tuple[Fact, ...]


# « En général, il s'agit d'une amende de 135 € », « Elle est versée pendant 3 mois »: whose amende, which aid, is
# said before; such a sentence is no statement on its own, and another document's « 35 € » may be about anything.
_PRONOUN_SUBJECT = re.compile(r"^(?:[^,]{0,40},\s*)?(?:il|elle|ils|elles|cela|ceci|ce|c'|celle-ci|celui-ci)\b", re.I)


def statements(text: str) -> list[Statement]:
    """The sentences of a text that state at least one figure, and say themselves what it is about."""
    by_sentence: dict[int, list[Fact]] = {}
    for fact in extract_facts(text):
        by_sentence.setdefault(fact.start, []).append(fact)
    return [
        Statement(facts[0].sentence, facts[0].context, tuple(facts))
        for facts in by_sentence.values()
        if len(facts[0].context) >= MIN_SHARED_TERMS and not _PRONOUN_SUBJECT.match(facts[0].sentence)
    ]


def restated_with_other_figures(first: Statement, second: Statement) -> list[tuple[Fact, Fact]]:
    """The figures that differ between two wordings of one statement, in the order they are stated; nothing when the
    sentences are not one statement or state the same figures."""
    if len(first.terms ^ second.terms) > MAX_CHANGED_TERMS or len(first.terms & second.terms) < MIN_SHARED_TERMS:
        return []
    pairs = []
    units = {fact.unit for fact in first.facts} | {fact.unit for fact in second.facts}
    for unit in sorted(units):
        mine = [fact for fact in first.facts if fact.unit == unit]
        theirs = [fact for fact in second.facts if fact.unit == unit]
        if len(mine) != len(theirs):
            continue  # a figure added or removed: the role of each is not clear enough to pair them
        pairs += [(a, b) for a, b in zip(mine, theirs, strict=True) if a.value != b.value]
    if not pairs and len(first.facts) == len(second.facts) == 1 and first.facts[0].unit != second.facts[0].unit:
        # « Le montant de l'aide … est de 150 € » then « … est de 90 % »: one figure, given another way.
        pairs.append((first.facts[0], second.facts[0]))
    return pairs
