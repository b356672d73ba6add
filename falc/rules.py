"""The FALC rules that can be measured, per sentence and per draft — no LLM judge.

From « L'information pour tous » (Inclusion Europe, adapted in France by Unapei): short sentences, one idea each,
common words, hard words explained the first time, no abbreviations, numbers in digits, dates written out, active
voice, no double negation, speaking to the reader. The thresholds are the guides' own where they give one (15 words a
sentence is the usual ceiling); word frequencies come from `wordfreq`, the French readability score (Kandel & Moles'
adaptation of Flesch: 207 − 1.015 × words per sentence − 73.6 × syllables per word) from `textstat`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from wordfreq import top_n_list, zipf_frequency

from falc.facts import digits_for_words, without_addresses
from rag.citations import split_sentences
from sourcier.french import parser

MAX_WORDS = 15
COMMON_WORDS = 5_000  # the per-draft share counts words outside the 5,000 most frequent French words
HARD_WORD_ZIPF = 3.5  # a word flagged in a sentence: used less than ~3 times in a million words (« justificatif »)

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ0-9]+(?:[-’'][A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*")
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
_ACRONYM = re.compile(r"\b[A-ZÀ-Ý]{2,}s?\b")
_ABBREVIATION = re.compile(
    r"(?<!\w)(?:etc|cf|art|ex|env|max|min|hab|tél|tel|p|ss|nb|réf|ref|dépt|av|bd|M|Mme|Mlle|Dr)\.(?=\s|$)|n°|N°|§",
)
_EXPLAINED_AFTER = re.compile(r"^\s*(?:\(|,?\s*c['’]est|,?\s*qui veut dire|,?\s*veut dire|:|—|–)", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"(?<![\d/])\d{1,2}/\d{1,2}/\d{2,4}(?![\d/])")
_NEGATIONS = re.compile(
    r"\b(?:ne|n['’])\s*\w+(?:\s+\w+)?\s+(?:pas|plus|jamais|rien|aucune?|guère|nullement)\b"
    r"|\bsans\b|\bnon\b|\bni\b|\baucune?\b|\bpersonne ne\b",
    re.IGNORECASE,
)
_VOUS = re.compile(r"(?<!rendez-)\b(?:vous|votre|vos)\b", re.IGNORECASE)
# Acronyms everyone reads as words, and units: not abbreviations to explain.
_PLAIN_ACRONYMS = {"OK", "TV", "SMS", "PDF", "CV", "SNCF", "EDF", "FALC"}


class Rule(StrEnum):
    LONG_SENTENCE = "phrase de plus de 15 mots"
    HARD_WORD = "mot difficile non expliqué"
    ABBREVIATION = "abréviation ou sigle non expliqué"
    PASSIVE = "voix passive"
    DOUBLE_NEGATION = "double négation"
    NUMBER_IN_LETTERS = "nombre écrit en lettres"
    NUMERIC_DATE = "date écrite en chiffres"


@dataclass
class Breach:
    rule: Rule
    what: str = ""  # the words at fault, quoted to the owner

    def __str__(self) -> str:
        return f"{self.rule} : « {self.what} »" if self.what else str(self.rule)


@dataclass
class SentenceCheck:
    text: str
    words: int
    breaches: list[Breach] = field(default_factory=list)


@dataclass
class Measures:
    sentences: list[SentenceCheck]
    short_share: float  # sentences of at most 15 words
    mean_words: float
    uncommon_share: float  # words outside the 5,000 most frequent
    kandel_moles: float  # higher is easier; ~60-70 for plain text, 80+ for very easy text
    vous_share: float  # sentences that speak to the reader

    @property
    def breaches(self) -> int:
        return sum(len(sentence.breaches) for sentence in self.sentences)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(top_n_list("fr", COMMON_WORDS))


def _bare(word: str) -> str:
    return _ELISION.sub("", word).lower()


def _is_checked_word(word: str, first: bool) -> bool:
    """Numbers, one- and two-letter words and names (a capital inside a sentence) are not judged on frequency."""
    return len(word) > 2 and not any(c.isdigit() for c in word) and (first or not word[0].isupper())


def _explained(text: str, start: int, end: int) -> bool:
    """« … un justificatif (un papier qui prouve …) », « … le CCAS, c'est le centre … », or the explanation before:
    « le centre communal d'action sociale (CCAS) »."""
    before = text[:start].rstrip()
    return bool(_EXPLAINED_AFTER.match(text[end:])) or (before.endswith("(") and text[end:].lstrip().startswith(")"))


def check_sentence(text: str, explained: set[str]) -> SentenceCheck:
    """The rules `text` breaks; `explained` holds the hard words and acronyms already explained in the draft, and
    gets those this sentence explains."""
    sentence, text = text, without_addresses(text)
    parsed = parser(lemmas=True)(text)
    lemmas = {token.lower_: token.lemma_.lower() for token in parsed}
    tokens = list(_WORD.finditer(text))
    check = SentenceCheck(sentence, len(tokens))
    if len(tokens) > MAX_WORDS:
        check.breaches.append(Breach(Rule.LONG_SENTENCE, f"{len(tokens)} mots"))
    for index, match in enumerate(tokens):
        word, bare = match.group(0), _bare(match.group(0))
        if (
            _is_checked_word(word, index == 0)
            and not _ACRONYM.fullmatch(word)
            and bare not in explained
            and _is_hard(bare, lemmas)
        ):
            if not _explained(text, match.start(), match.end()):
                check.breaches.append(Breach(Rule.HARD_WORD, word))
            explained.add(bare)  # explained, or flagged once where it first appears
    for match in _ACRONYM.finditer(text):
        acronym = match.group(0)
        if acronym in explained or acronym in _PLAIN_ACRONYMS or acronym.rstrip("s") in _PLAIN_ACRONYMS:
            continue
        explained.add(acronym)
        if not _explained(text, match.start(), match.end()):
            check.breaches.append(Breach(Rule.ABBREVIATION, acronym))
    check.breaches.extend(Breach(Rule.ABBREVIATION, m.group(0)) for m in _ABBREVIATION.finditer(text))
    if _is_passive(parsed):
        check.breaches.append(Breach(Rule.PASSIVE))
    if len(_NEGATIONS.findall(text)) >= 2:
        check.breaches.append(Breach(Rule.DOUBLE_NEGATION))
    if digits_for_words(text) != text:
        check.breaches.append(Breach(Rule.NUMBER_IN_LETTERS))
    check.breaches.extend(Breach(Rule.NUMERIC_DATE, m.group(0)) for m in _NUMERIC_DATE.finditer(text))
    return check


def _is_hard(word: str, lemmas: dict[str, str]) -> bool:
    """Rare as written and as its lemma (verb forms split a verb's frequency: « adressez » is rare, « adresser » is
    not); a hyphenated word is hard when one of its parts is (« adressez-vous »)."""
    if zipf_frequency(word, "fr") >= HARD_WORD_ZIPF:
        return False
    parts = [part for part in re.split(r"[-’']", word) if len(part) > 2] or [word]
    return any(
        max(zipf_frequency(part, "fr"), zipf_frequency(lemmas.get(part, part), "fr")) < HARD_WORD_ZIPF for part in parts
    )


def _is_passive(parsed) -> bool:
    """« Le dossier est instruit par le service », « les pièces ont été envoyées »: the parser's passive auxiliary.
    « Vous êtes inscrit » is a state, not an action: a passive with « vous » as its subject is not counted."""
    for token in parsed:
        if token.dep_ == "aux:pass":
            subjects = [child for child in token.head.children if child.dep_ == "nsubj:pass"]
            if not any(subject.lower_ == "vous" for subject in subjects):
                return True
    return False


def sentences_of(text: str) -> list[str]:
    """Sentences and list items; titles (lines opening with #) are not sentences."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [s.lstrip("-•* ").strip() for s in split_sentences("\n".join(lines)) if words(s)]


def kandel_moles(text: str) -> float:
    from textstat.textstat import textstatistics  # English syllables would fetch an NLTK corpus; French does not

    statistics = textstatistics()
    statistics.set_lang("fr")
    return round(float(statistics.flesch_reading_ease(text)), 1)


def measure(text: str, explained: set[str] | None = None) -> Measures:
    """Every sentence checked, and the draft's figures. `explained` carries what earlier parts of the same draft
    have explained."""
    explained = set() if explained is None else explained
    checks = [check_sentence(sentence, explained) for sentence in sentences_of(text)]
    tokens = [_bare(w) for check in checks for w in words(check.text) if _is_checked_word(w, True)]
    count = max(len(checks), 1)
    return Measures(
        sentences=checks,
        short_share=sum(c.words <= MAX_WORDS for c in checks) / count,
        mean_words=sum(c.words for c in checks) / count,
        uncommon_share=sum(t not in _common() for t in tokens) / max(len(tokens), 1),
        kandel_moles=kandel_moles(" ".join(without_addresses(c.text).rstrip(".!? ") + "." for c in checks))
        if checks
        else 0.0,
        vous_share=sum(bool(_VOUS.search(c.text)) for c in checks) / count,
    )
