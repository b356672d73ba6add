"""Check an answer's citations: a sentence is supported only if the extract it cites states it.

Sharing words with an extract is not enough (« Le dossier de mariage est valable 3 mois » shares five of its six
words with a table saying that the *birth certificate* must be under 3 months old). So, per sentence:

- the words it is *about* — the nouns of its subject, or of its object when the subject is a pronoun (a French
  dependency parse, spaCy's small model from PyPI) — must all be in the cited extracts;
- every number must be there with what it counts (« 3 mois », not a « 3 » next to « jours »);
- it must not deny what the closest sentence of the extract affirms, or the reverse;
- most of its content words must be in the cited extracts, and, when an embedder is given, it must be close in
  meaning to one sentence of them;
- a sentence without a marker is attributed to the extract that states it best (`inferred`), then checked the same
  way; a sentence that no extract states is unsupported — never supported by default.

Measured on a labelled set of sentences from real answers (`python -m evaluation.citation_set`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.prompts import ABSTENTION
from rag.question import LACK_PREFIX
from sourcier.french import content_terms, fold, numbers, parser, quantities

_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\[A-ZÀ-Ý0-9\-•])|\n+")
_NEGATION = re.compile(
    r"\b(?:ne|n)\b[^.;:]*?\b(?:pas|plus|jamais|aucune?|rien|nulle?|guere|ni)\b|\b(?:aucune?|jamais|nulle part)\b"
)
_ITEM_LEAD = re.compile(r"^([-•*–]|\d{1,2}[.)])?\s*:\s*")
_NUMBERING = re.compile(r"\d{1,2}[.)]")
_NOT_A_SUBJECT = {"oui", "non", "si"}  # « Oui, … »: an answer word, not what the sentence is about
_CLAUSE = re.compile(r"[;:]|,\s+(?=mais|sauf|et|ou|si)\b|\s+(?=[A-ZÀ-Ý][a-zà-ÿ]+\s)")
SUPPORT_THRESHOLD = 0.5  # share of the sentence's content words found in its cited extracts
SIMILARITY_THRESHOLD = 0.80  # e5 cosine to the closest sentence of the cited extracts (query prompt on both sides)
NEGATION_OVERLAP = 0.5  # the extract sentence compared for polarity must say mostly the same thing

# How a source Sourcier attributed (the model cited none, or the wrong one) is shown, the same in the app and the CLI.
INFERRED_MARK = "†"
INFERRED_NOTE = "source retrouvée par Sourcier : le modèle n'avait pas cité cet extrait pour cette phrase."

# Sentence embeddings of a batch of texts, normalised (the answerer passes its e5 model's).
EmbedSentences = Callable[[list[str]], np.ndarray]


@dataclass
class CheckedSentence:
    text: str  # without markers
    sources: list[int] = field(default_factory=list)  # valid extract numbers, 1-based
    inferred: bool = False  # no marker: attributed to the extract that states it best
    supported: bool = False
    support: float = 0.0  # share of its content words found in its sources
    similarity: float | None = None  # closeness in meaning to the closest sentence of its sources
    unknown_numbers: list[str] = field(default_factory=list)  # figures that appear in no extract
    detached_numbers: list[str] = field(default_factory=list)  # « 3 mois »: not so in its sources
    off_subject: list[str] = field(default_factory=list)  # what it is about that its sources never mention
    negation_mismatch: bool = False  # it denies what its source affirms, or the reverse
    dropped_markers: list[int] = field(default_factory=list)  # [n] pointing to no extract
    suspect_only: bool = False  # its only sources hold text addressed to an AI: one planted extract, not evidence

    @property
    def is_abstention(self) -> bool:
        """The standard refusal, or the sentence saying which of the question's specifics the documents lack."""
        return _refuses(self.text) or self.text.startswith(LACK_PREFIX)

    @property
    def doubt(self) -> str | None:
        """Why the sentence must be checked before it is relied on (French, for the agent); None when supported."""
        if self.supported:
            return None
        if self.suspect_only:
            return "elle ne s'appuie que sur un extrait suspect (son document contient du texte adressé à une IA)"
        if not self.sources:
            return "aucun extrait ne dit cela"
        if self.unknown_numbers:
            return f"chiffre absent des sources : {', '.join(self.unknown_numbers)}"
        if self.off_subject:
            quoted = ", ".join(f"« {word} »" for word in self.off_subject)
            return f"la source citée ne parle pas de {quoted}"
        if self.detached_numbers:
            quoted = ", ".join(f"« {figure} »" for figure in self.detached_numbers)
            return f"la source citée ne dit pas {quoted}"
        if self.negation_mismatch:
            return "la source citée dit le contraire (négation)"
        return "affirmation non retrouvée dans les extraits cités"


def split_sentences(answer: str) -> list[str]:
    pieces = [p.strip() for p in _SENTENCE_END.split(answer.strip()) if p and p.strip()]
    sentences: list[str] = []
    numbering = ""
    for piece in pieces:
        if _NUMBERING.fullmatch(piece):  # « 1. » of a numbered list belongs to the item that follows
            numbering = piece + " "
            continue
        piece, numbering = numbering + piece, ""
        # "… mois. [1] Ensuite …": markers at the start of a piece belong to the sentence before.
        leading = re.match(r"^((?:\s*\[\d{1,2}\])+)(?!\s*:)\s*(.*)$", piece, re.DOTALL)  # « [2] : … » opens its own
        if leading and sentences:
            sentences[-1] += " " + leading.group(1).strip()
            piece = leading.group(2).strip()
        if piece:
            sentences.append(piece)
    return sentences


def states_nothing(answer: str) -> bool:
    """Markers, list dashes or questions only: the small model sometimes writes « - [1] » and stops, or gives the
    question back (« - Où voir les horaires ? [1] ») — 3 of 24 answers on the FAQ set."""
    for sentence in split_sentences(answer):
        text = _MARKER.sub("", sentence).strip(" -•*–:.\t")
        if text and not text.endswith("?"):
            return False
    return True


def _refuses(sentence: str) -> bool:
    return ABSTENTION.rstrip(".") in sentence


def only_refuses(answer: str) -> bool:
    """The standard refusal and nothing else (markers, dashes and questions aside)."""
    sentences = split_sentences(answer)
    rest = [s for s in sentences if not _refuses(s)]
    return len(rest) < len(sentences) and states_nothing("\n".join(rest))


@lru_cache(maxsize=4096)
def about(sentence: str) -> tuple[str, ...]:
    """The nouns a sentence is about: its main subject's and its main object's (« le dossier de mariage est
    valable » → dossier, mariage; « vous devez fournir un justificatif de domicile » → justificatif, domicile). Heads
    and their noun complements only: a relative clause says something about them, it does not name them."""
    document = parser()(sentence)
    words = []
    for relations in (("nsubj", "nsubj:pass"), ("obj",)):
        heads = [
            t
            for t in document
            if t.dep_ in relations and t.pos_ in ("NOUN", "PROPN") and fold(t.text) not in _NOT_A_SUBJECT
        ]
        if not heads:
            continue
        # An adverbial clause sets the scene (« Pour vendre sa voiture, il faut un certificat de non-gage »): the
        # claim is the rest's, when the rest has such a noun.
        heads = [t for t in heads if not any(a.dep_ == "advcl" for a in t.ancestors)] or heads
        head = next((t for t in heads if t.head.dep_ == "ROOT"), heads[0])  # the main clause's, when it has one
        words.append(head)
        frontier = [head]
        while frontier:
            token = frontier.pop()
            for child in token.children:
                counted = any(grandchild.pos_ == "NUM" for grandchild in child.children)  # « de 3 mois »: a figure
                if (
                    child.dep_ in ("nmod", "compound", "flat:name", "appos")
                    and child.pos_ in ("NOUN", "PROPN")
                    and not counted
                ):
                    words.append(child)
                    frontier.append(child)
    return tuple(word.text for word in sorted(words, key=lambda t: t.i))


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(fold(text)))


@dataclass
class _Shown:
    """What the model was shown, read once: each extract's words, sentences, clauses (content words of each) and
    figures — every answer sentence is weighed against them."""

    texts: list[str]
    suspect: list[bool]
    terms: list[set[str]]
    sentences: list[list[str]]
    sentence_terms: list[list[set[str]]]
    clauses: list[list[tuple[str, set[str]]]]
    quantities: list[set[tuple[str, str | None]]]
    numbers: set[str]

    @classmethod
    def read(cls, extracts: list[str], suspect: Sequence[bool]) -> _Shown:
        sentences = [split_sentences(text) for text in extracts]
        return cls(
            texts=extracts,
            suspect=list(suspect) or [False] * len(extracts),
            terms=[set(content_terms(text)) for text in extracts],
            sentences=sentences,
            sentence_terms=[[set(content_terms(s)) for s in per_extract] for per_extract in sentences],
            clauses=[
                [(c, set(content_terms(c))) for s in per_extract for c in _CLAUSE.split(s) if c]
                for per_extract in sentences
            ],
            quantities=[set(quantities(text)) for text in extracts],
            numbers=set().union(*(numbers(text) for text in extracts)) if extracts else set(),
        )

    @property
    def numbered(self) -> range:
        return range(1, len(self.texts) + 1)


def check_answer(
    answer: str,
    extracts: list[str],
    suspect: Sequence[bool] = (),
    embed: EmbedSentences | None = None,
) -> list[CheckedSentence]:
    """`extracts` are what the model was shown (title included). `suspect[n-1]` marks extract n as holding text
    addressed to an AI: a sentence that only such extracts support is not supported, whatever its words (a planted
    document must not overturn the others). `embed`, when given, adds closeness in meaning as a condition."""
    shown = _Shown.read(extracts, suspect)
    checked, claims = [], []  # claims: the sentences with words to check
    for raw in split_sentences(answer):
        cited = [int(n) for n in _MARKER.findall(raw)]
        text = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", raw).strip())
        text = _ITEM_LEAD.sub(lambda m: f"{m.group(1)} " if m.group(1) else "", text)  # « - [1] : Pour … »
        sentence = CheckedSentence(text=text)
        sentence.sources = sorted({n for n in cited if n in shown.numbered})
        sentence.dropped_markers = sorted({n for n in cited if n not in shown.numbered})
        checked.append(sentence)
        if sentence.is_abstention:
            sentence.supported = True
            continue
        terms = set(content_terms(text))
        sentence.unknown_numbers = sorted(numbers(text) - shown.numbers)
        if not terms:  # « Oui. »: nothing to check but figures
            sentence.supported = not sentence.unknown_numbers
            continue
        if not sentence.sources and extracts:
            best = max(shown.numbered, key=lambda n, terms=terms: _overlap(terms, n, shown))
            if terms & shown.terms[best - 1]:
                sentence.sources, sentence.inferred = [best], True
        if not sentence.sources:
            continue
        _weigh(sentence, terms, shown)
        sentence.suspect_only = all(shown.suspect[n - 1] for n in sentence.sources)
        claims.append(sentence)
    closeness = _Closeness(embed, shown.sentences) if embed is not None else None
    if closeness is not None:
        closeness.measure(claims)
    for sentence in claims:
        sentence.supported = _holds(sentence)
        if not sentence.supported and not sentence.suspect_only:
            _cite_the_extract_that_states_it(sentence, shown, closeness)
    return checked


def _overlap(terms: set[str], number: int, shown: _Shown) -> tuple[int, int]:
    """How much of a sentence extract `number` says: in one of its sentences first (a copied sentence), then in all."""
    local = max((len(terms & sentence) for sentence in shown.sentence_terms[number - 1]), default=0)
    return local, len(terms & shown.terms[number - 1])


def _holds(sentence: CheckedSentence) -> bool:
    if sentence.text.endswith(":"):  # « Les pièces à fournir sont les suivantes : »: announces, states nothing
        return not (sentence.unknown_numbers or sentence.negation_mismatch or sentence.suspect_only)
    return (
        sentence.support >= SUPPORT_THRESHOLD
        and not (sentence.unknown_numbers or sentence.detached_numbers or sentence.off_subject)
        and not sentence.negation_mismatch
        and not sentence.suspect_only
        and (sentence.similarity is None or sentence.similarity >= SIMILARITY_THRESHOLD)
    )


def _cite_the_extract_that_states_it(sentence: CheckedSentence, shown: _Shown, closeness: _Closeness | None) -> None:
    """A small model often numbers its markers wrong: when another extract states the sentence, that extract is
    cited instead (`inferred`), and the sentence stands; otherwise it keeps its marker and its doubt."""
    terms = set(content_terms(sentence.text))
    for number in shown.numbered:
        if number in sentence.sources or shown.suspect[number - 1]:
            continue
        trial = CheckedSentence(text=sentence.text, sources=[number], unknown_numbers=sentence.unknown_numbers)
        _weigh(trial, terms, shown)
        if closeness is not None:
            closeness.measure([trial])
        # Better evidence, not merely other evidence: as many of its words, and a passage that says most of it.
        if (
            _holds(trial)
            and trial.support >= sentence.support
            and _closest_clause(terms, shown.clauses[number - 1])[0] >= NEGATION_OVERLAP
        ):
            trial.inferred, trial.supported, trial.dropped_markers = True, True, sentence.dropped_markers
            sentence.__dict__.update(trial.__dict__)
            return


def _weigh(sentence: CheckedSentence, terms: set[str], shown: _Shown) -> None:
    covered = set().union(*(shown.terms[n - 1] for n in sentence.sources))
    sentence.support = round(len(terms & covered) / len(terms), 3)
    sentence.off_subject = [word for word in about(sentence.text) if not set(content_terms(word)) <= covered]
    cited_quantities = set().union(*(shown.quantities[n - 1] for n in sentence.sources))
    cited_numbers = {number for number, _ in cited_quantities}
    sentence.detached_numbers = [
        written
        for (number, unit), written in quantities(sentence.text).items()
        if number not in sentence.unknown_numbers
        and (number not in cited_numbers or (unit and (number, unit) not in cited_quantities))
    ]
    # Polarity is compared with the clause, in any extract the model was shown, that says most of the same thing
    # (a clause: lists and tables run on without full stops, and a « ne … pas » two items away says nothing about
    # this one). Denying what one extract affirms is a doubt wherever the marker points.
    overlap, closest = _closest_clause(terms, [clause for per_extract in shown.clauses for clause in per_extract])
    sentence.negation_mismatch = overlap >= NEGATION_OVERLAP and _negated(sentence.text) != _negated(closest)


def _closest_clause(terms: set[str], clauses: list[tuple[str, set[str]]]) -> tuple[float, str]:
    """The share of `terms` the closest clause holds, and that clause."""
    return max(((len(terms & words) / len(terms), clause) for clause, words in clauses), default=(0.0, ""))


class _Closeness:
    """Closeness in meaning of a sentence to the sentences of its sources; every text is embedded once."""

    def __init__(self, embed: EmbedSentences, extract_sentences: list[list[str]]) -> None:
        self._embed = embed
        self._numbered = [(n, text) for n, texts in enumerate(extract_sentences, start=1) for text in texts]
        self._passages: np.ndarray | None = None
        self._claims: dict[str, np.ndarray] = {}

    def measure(self, sentences: list[CheckedSentence]) -> None:
        sentences = [s for s in sentences if s.sources and not s.is_abstention]
        if self._passages is None:
            self._passages = self._embed([text for _, text in self._numbered])
        new = list(dict.fromkeys(s.text for s in sentences if s.text not in self._claims))
        if new:
            self._claims.update(zip(new, self._embed(new), strict=True))
        for sentence in sentences:
            rows = [i for i, (n, _) in enumerate(self._numbered) if n in sentence.sources]
            if rows:
                sentence.similarity = round(float(np.max(self._passages[rows] @ self._claims[sentence.text])), 3)


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
