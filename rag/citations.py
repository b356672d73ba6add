"""Check an answer's citations: every [n] must point to an extract that supports its sentence.

Support is lexical and cheap (no model ships offline that could judge entailment in French): the share of the
sentence's content words found in the cited extracts, and every number of the sentence present in an extract.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.prompts import ABSTENTION
from rag.question import LACK_PREFIX
from sourcier.french import content_terms, numbers

_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\[A-ZÀ-Ý0-9\-•])|\n+")
SUPPORT_THRESHOLD = 0.5


@dataclass
class CheckedSentence:
    text: str  # without markers
    sources: list[int] = field(default_factory=list)  # valid extract numbers, 1-based
    supported: bool = False
    support: float = 0.0
    unknown_numbers: list[str] = field(default_factory=list)  # figures that appear in no extract
    dropped_markers: list[int] = field(default_factory=list)  # [n] pointing to no extract
    suspect_only: bool = False  # its only sources hold text addressed to an AI: one planted extract, not evidence

    @property
    def is_abstention(self) -> bool:
        """The standard refusal, or the sentence saying which of the question's specifics the documents lack."""
        return ABSTENTION.rstrip(".") in self.text or self.text.startswith(LACK_PREFIX)

    @property
    def doubt(self) -> str | None:
        """Why the sentence must be checked before it is relied on (French, for the agent); None when supported."""
        if self.supported:
            return None
        if self.suspect_only:
            return "elle ne s'appuie que sur un extrait suspect (son document contient du texte adressé à une IA)"
        if self.unknown_numbers:
            return f"chiffre absent des sources : {', '.join(self.unknown_numbers)}"
        return "affirmation non retrouvée dans les extraits cités"


def split_sentences(answer: str) -> list[str]:
    pieces = [p.strip() for p in _SENTENCE_END.split(answer.strip()) if p and p.strip()]
    sentences: list[str] = []
    for piece in pieces:
        # "… mois. [1] Ensuite …": markers at the start of a piece belong to the sentence before.
        leading = re.match(r"^((?:\s*\[\d{1,2}\])+)\s*(.*)$", piece, re.DOTALL)
        if leading and sentences:
            sentences[-1] += " " + leading.group(1).strip()
            piece = leading.group(2).strip()
        if piece:
            sentences.append(piece)
    return sentences


def check_answer(answer: str, extracts: list[str], suspect: Sequence[bool] = ()) -> list[CheckedSentence]:
    """`suspect[n-1]` marks extract n as holding text addressed to an AI: a sentence that only such extracts
    support is not supported, whatever its words (a planted document must not overturn the others)."""
    suspect = list(suspect) or [False] * len(extracts)
    extract_terms = [set(content_terms(text)) for text in extracts]
    extract_numbers = set().union(*(numbers(text) for text in extracts)) if extracts else set()
    checked = []
    for raw in split_sentences(answer):
        cited = [int(n) for n in _MARKER.findall(raw)]
        text = _MARKER.sub("", raw).strip()
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        sentence = CheckedSentence(text=text)
        sentence.sources = sorted({n for n in cited if 1 <= n <= len(extracts)})
        sentence.dropped_markers = sorted({n for n in cited if not 1 <= n <= len(extracts)})
        if sentence.is_abstention:
            sentence.supported = True
            checked.append(sentence)
            continue
        terms = set(content_terms(text))
        sentence.unknown_numbers = sorted(numbers(text) - extract_numbers)
        if not terms:
            sentence.supported = not sentence.unknown_numbers
            checked.append(sentence)
            continue
        # Cited extracts first; a sentence without a valid marker is checked against all of them.
        candidates = sentence.sources or list(range(1, len(extracts) + 1))
        covered = set().union(*(extract_terms[n - 1] for n in candidates)) if candidates else set()
        sentence.support = round(len(terms & covered) / len(terms), 3)
        if not sentence.sources and sentence.support >= SUPPORT_THRESHOLD:
            best = max(candidates, key=lambda n: len(terms & extract_terms[n - 1]))
            sentence.sources = [best]  # inferred: the model forgot its marker
        sentence.suspect_only = bool(sentence.sources) and all(suspect[n - 1] for n in sentence.sources)
        sentence.supported = (
            bool(sentence.sources)
            and sentence.support >= SUPPORT_THRESHOLD
            and not sentence.unknown_numbers
            and not sentence.suspect_only
        )
        checked.append(sentence)
    return checked


def supporting_sentences(excerpt: str, claims: list[str], min_shared: int = 2) -> list[str]:
    """The sentences of an excerpt that carry an answer's claims (for each claim, those sharing the most content
    words with it, at least `min_shared`): what the source view highlights."""
    sentences = [(sentence, set(content_terms(sentence))) for sentence in split_sentences(excerpt)]
    found: set[str] = set()
    for claim in claims:
        wanted = set(content_terms(claim))
        overlaps = [(len(terms & wanted), sentence) for sentence, terms in sentences]
        best = max((shared for shared, _ in overlaps), default=0)
        if best >= min_shared:
            found.update(sentence for shared, sentence in overlaps if shared == best)
    return [sentence for sentence, _ in sentences if sentence in found]
