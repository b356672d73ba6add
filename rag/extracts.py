"""Read: of each retrieved passage, the sentences that bear on the question — highlighted on the page at once, and,
with their neighbours, all the model is shown, within a budget of tokens counted with the model's own tokenizer.

A 1.5B model on 2 CPU cores reads ~75 tokens a second: four whole 900-character passages (~1,100 tokens) kept the
agent waiting 13 s (p50) before the first word. The sentences that share the question's rarer words come first, with
the sentence before each (its context) and the list a « : » announces; what budget is left goes to the sentences
nearest them (the hours under a heading that matched). The rest is cut, and the cut is marked « […] ». The best-ranked
passage is shown whole when it takes at most half the budget: a short passage that retrieval put first usually is
the answer, and its sentences that share no word of the question hold what the agent needs next (« Le délai de
traitement est de 4 à 6 mois. La carte est gratuite. »), which sentences of other passages had outbid.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from sourcier.french import content_terms, words

GAP = "[…]"  # between sentences that do not follow each other in the passage
HEADER_TOKENS = 20  # an extract's delimiters, number and title
LIST_ITEMS = 8  # list lines kept after a sentence that announces them (« les pièces suivantes : »)
WHOLE_TOP_SHARE = 0.5  # of the budget, at most, for the best-ranked passage shown whole

_LINE = re.compile(r"\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«A-ZÀ-Ý0-9])")
_LIST_ITEM = re.compile(r"^\s*([-•*–]|\d{1,2}[.)])\s+")
# Words that frame a question without saying what it is about: they select nothing. Shorter than the evidence
# model's list (`rag.evidence.FRAMING`) on purpose: « combien de temps dure … » says nothing of whether the index
# is about the question, but « durée » is how the sentence that answers it is found.
_FRAMING = words("faut-il dois-je savoir")

TokenCounter = Callable[[str], int]


def estimated_tokens(text: str) -> int:
    """When the model's tokenizer cannot be asked (Ollama): French runs ~3.5 characters a token; erring high."""
    return len(text) // 3 + 1


@dataclass(frozen=True)
class Extract:
    number: int  # the passage's [n]
    document: Document
    sentences: tuple[str, ...]
    relevant: tuple[int, ...]  # sentences that share the question's words, best first
    shown: tuple[int, ...]  # sent to the model, in the passage's order

    @property
    def highlights(self) -> list[str]:
        return [self.sentences[i] for i in self.relevant]

    @property
    def text(self) -> str:
        """What the model reads of the passage: the sentences shown, « […] » where some were left out."""
        parts: list[str] = []
        previous = None
        for index in self.shown:
            if previous is not None and index != previous + 1:
                parts.append(GAP)
            parts.append(self.sentences[index])
            previous = index
        if self.shown and self.shown[-1] != len(self.sentences) - 1:
            parts.append(GAP)
        return "\n".join(parts)


def split_passage(text: str) -> list[str]:
    """Lines, then sentences within a line: list items stay one each."""
    return [s.strip() for line in _LINE.split(text) for s in _SENTENCE_END.split(line) if s.strip()]


def select(
    question: str,
    documents: Sequence[Document],
    budget_tokens: int,
    count_tokens: TokenCounter = estimated_tokens,
) -> list[Extract]:
    """The sentences of `documents` to show for `question`, best first until `budget_tokens` are spent.

    A sentence's score is the summed rarity (over the retrieved sentences) of the question's words it holds, so
    « pièce d'identité » weighs more than « demande », which every passage has."""
    split = [split_passage(d.page_content) for d in documents]
    wanted = set(content_terms(question, leaving=_FRAMING))
    terms = [[set(content_terms(s)) & wanted for s in sentences] for sentences in split]
    frequency = Counter(t for passage in terms for sentence in passage for t in sentence)
    total = sum(len(s) for s in split) or 1
    weight = {t: math.log(1 + total / n) for t, n in frequency.items()}

    scored: list[tuple[float, int, int]] = []  # (score, passage, sentence)
    for p, passage in enumerate(terms):
        for i, found in enumerate(passage):
            score = sum(weight[t] for t in found)
            if score > 0:
                scored.append((score, p, i))
    # Best sentences first; among equals, the better-ranked passage.
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    if not scored and split and split[0]:  # nothing shares a word: the top passage's opening, as retrieval ranked it
        scored = [(0.0, 0, i) for i in range(len(split[0]))]

    shown: list[set[int]] = [set() for _ in split]
    relevant: list[list[int]] = [[] for _ in split]
    spent = 0
    cost: dict[tuple[int, int], int] = {}

    def price(p: int, i: int) -> int:
        if (p, i) not in cost:
            cost[(p, i)] = count_tokens(split[p][i]) + 1
        return cost[(p, i)]

    if split and split[0]:
        whole = sum(price(0, i) for i in range(len(split[0]))) + HEADER_TOKENS
        if whole <= WHOLE_TOP_SHARE * budget_tokens:
            shown[0].update(range(len(split[0])))
            spent += whole
    for score, p, i in scored:
        unit = [i, *_context(split[p], i)]
        new = [j for j in unit if j not in shown[p]]
        extra = sum(price(p, j) for j in new) + (HEADER_TOKENS if not shown[p] else 0)
        if spent + extra > budget_tokens:
            # The sentence alone may still fit where its context does not.
            if i in shown[p] or spent + price(p, i) + (HEADER_TOKENS if not shown[p] else 0) > budget_tokens:
                continue
            new = [i]
            extra = price(p, i) + (HEADER_TOKENS if not shown[p] else 0)
        shown[p].update(new)
        spent += extra
        if score > 0:
            relevant[p].append(i)
    # The budget left goes to what surrounds the chosen sentences (the hours under a heading that matched, the
    # rest of a paragraph), nearest first, better-ranked passages first among equals.
    rest = []
    for p, sentences in enumerate(split):
        anchors = shown[p] or {-1}
        for i in range(len(sentences)):
            if i not in shown[p]:
                rest.append((min(abs(i - a) for a in anchors) + (0 if shown[p] else len(sentences)), p, i))
    for _, p, i in sorted(rest):
        extra = price(p, i) + (HEADER_TOKENS if not shown[p] else 0)
        if spent + extra <= budget_tokens:
            shown[p].add(i)
            spent += extra
    return [
        Extract(number, document, tuple(sentences), tuple(relevant[p]), tuple(sorted(shown[p])))
        for p, (number, document, sentences) in enumerate(zip(range(1, len(split) + 1), documents, split, strict=True))
    ]


def _context(sentences: list[str], index: int) -> list[int]:
    """The sentence before (what it continues) — for a list item, the line that opens the list — and the list
    a « : » announces."""
    around = []
    before = index - 1
    while before >= 0 and _LIST_ITEM.match(sentences[index]) and _LIST_ITEM.match(sentences[before]):
        before -= 1
    if before >= 0:
        around.append(before)
    if sentences[index].rstrip().endswith(":"):
        for following in range(index + 1, min(index + 1 + LIST_ITEMS, len(sentences))):
            if not _LIST_ITEM.match(sentences[following]) and following > index + 1:
                break
            around.append(following)
    return around
