"""Decide, before any model is called, whether the retrieved passages can answer the question.

Three outcomes: answer; give only the general rule, after saying which of the question's specifics (a named town, a
year, « lundi prochain ») no passage mentions; or abstain. Whether the passages are about the question at all is a
logistic model over signals that do not depend on one embedding model's cosine scale — how far the best passages
stand out from the other candidates (dense and lexical) and above the similarity that questions about nothing in the
index reach (its noise floor), how much of the question's content the passages cover, whether both retrievers agree.
Its weights are learned on the dev parts of the service-public abstention set and of CDTN's real queries
(`python -m evaluation.abstention fit`, written to `abstention_weights.json` beside this module).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from langchain_core.documents import Document

from rag.question import Specific, missing_specifics
from sourcier.french import content_terms, words

WEIGHTS_FILE = Path(__file__).with_name("abstention_weights.json")
AGREEMENT_DEPTH = 3  # a passage both retrievers rank this high is found by meaning and by words


class Verdict(StrEnum):
    ANSWER = "answer"
    GENERAL_RULE = "general_rule"  # the passages hold a rule, not the question's specifics
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class Signals:
    dense_z: float  # best passage's standing among the dense candidates, in standard deviations
    lexical_z: float
    coverage: float  # share of the question's content words found in the passages
    best_coverage: float  # … in the single passage that covers most
    agreement: float  # 1 when a passage is among the first of both retrievers
    dense_lift: float  # best passage's similarity above the index's noise floor, in spreads of it

    def vector(self) -> list[float]:
        return [self.dense_z, self.lexical_z, self.coverage, self.best_coverage, self.agreement, self.dense_lift]

    NAMES = ("dense_z", "lexical_z", "coverage", "best_coverage", "agreement", "dense_lift")


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    probability: float  # that the passages are about the question
    signals: Signals
    missing: list[Specific] = field(default_factory=list)


# Words that frame a question rather than name its subject: « Combien de temps dure … ? », « Faut-il … ? », « Je
# voudrais …, comment faire ? », « que dois-je faire ? » — the passage that answers says « 15 ans », not « temps »,
# and never « je voudrais »: counted, they made people's own wording look off-topic. Left out as written, not by stem:
# « fautes » and « durée » share the stems of « faut » and « dure » and say what a question is about.
FRAMING = words(
    "combien temps dure durent faut faudrait falloir savoir sais sait savez vouloir veux veut voulez voudrais "
    "voudrait voudrions souhaite souhaitons souhaitez souhaiterais souhaiterait pouvoir peux peut pouvez peuvent "
    "puis pourrais pourrait devoir dois doit devons devez doivent devrais devrait faire fais fait faites besoin quoi"
)
# « prud'hommes » is also written « prudhommes »: a passage's compounds count joined too.
_INNER_MARK = re.compile(r"(?<=\w)['’-](?=\w)")


# The stemmer leaves verbs and nouns of one word apart (« travailler » → travaill, « travail » → travail;
# « télétravailler », « télétravail »): a question's term is found in a passage's that starts with it, or the other
# way round, when the shorter is long enough not to be a mere prefix (« conge » would meet « congel »).
SHARED_PREFIX = 6


def _terms(text: str) -> set[str]:
    return set(content_terms(text)) | set(content_terms(_INNER_MARK.sub("", text)))


def _found(wanted: set[str], terms: set[str]) -> set[str]:
    exact = wanted & terms
    return exact | {
        term
        for term in wanted - exact
        if len(term) >= SHARED_PREFIX
        and any(len(other) >= SHARED_PREFIX and (other.startswith(term) or term.startswith(other)) for other in terms)
    }


def signals(question: str, documents: Sequence[Document]) -> Signals:
    wanted = set(content_terms(question, leaving=FRAMING))
    per_passage = [_terms(d.page_content + " " + d.metadata.get("title", "")) for d in documents]
    found = set().union(*per_passage) if per_passage else set()

    def share(terms: set[str]) -> float:
        return len(_found(wanted, terms)) / len(wanted) if wanted else 0.0

    return Signals(
        dense_z=max((d.metadata.get("dense_z", 0.0) for d in documents), default=0.0),
        lexical_z=max((d.metadata.get("bm25_z", 0.0) for d in documents), default=0.0),
        coverage=share(found),
        best_coverage=max((share(terms) for terms in per_passage), default=0.0),
        agreement=float(any(_found_by_both(d) for d in documents)),
        dense_lift=max((d.metadata.get("dense_lift", 0.0) for d in documents), default=0.0),
    )


def _found_by_both(document: Document) -> bool:
    meta = document.metadata
    return meta.get("dense_rank", 99) <= AGREEMENT_DEPTH and meta.get("bm25_rank", 99) <= AGREEMENT_DEPTH


@dataclass(frozen=True)
class AbstentionModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float  # below this probability, abstain

    def probability(self, features: Signals) -> float:
        score = self.bias + sum(w * x for w, x in zip(self.weights, features.vector(), strict=True))
        return 1 / (1 + math.exp(-score))

    def about_the_question(self, features: Signals, probability: float | None = None) -> bool:
        """Likely enough, and at least one of the question's own words in the passages: with none, a close vector
        alone is too little (« Comment faire une tarte aux pommes ? » stood 1.2 spreads above the noise floor of a
        six-fiche index). On the dev parts this refused 1 more answerable query of 514 (« pti »)."""
        probability = self.probability(features) if probability is None else probability
        return features.coverage > 0 and probability >= self.threshold

    def to_json(self) -> str:
        return json.dumps(
            {"features": Signals.NAMES, "weights": self.weights, "bias": self.bias, "threshold": self.threshold},
            indent=1,
        )

    @classmethod
    @cache
    def shipped(cls) -> AbstentionModel:
        data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        if tuple(data["features"]) != Signals.NAMES:
            raise ValueError(f"{WEIGHTS_FILE.name} : poids calculés pour d'autres signaux, relancez l'étalonnage")
        return cls(tuple(data["weights"]), data["bias"], data["threshold"])


def _where_and_what(document: Document) -> str:
    """A passage's text with what places it: its document's title, folders and service. Putanges' minutes say
    « Putanges » in their folder, not in every passage: a question about Putanges is about them."""
    meta = document.metadata
    folders = " ".join(str(meta.get("source", "")).replace("/", " ").replace("_", " ").split()[:-1])
    return " ".join([document.page_content, meta.get("title", ""), folders, meta.get("service", "")])


def assess(
    question: str, documents: Sequence[Document], searched: str | None = None, model: AbstentionModel | None = None
) -> Assessment:
    """The passages are weighed against what was searched (a follow-up with its topic); the specifics that must be
    found are those of the agent's own question."""
    model = model or AbstentionModel.shipped()
    features = signals(searched or question, documents)
    probability = model.probability(features) if documents else 0.0
    missing = missing_specifics(question, [_where_and_what(d) for d in documents])
    if not documents or not model.about_the_question(features, probability):
        verdict = Verdict.ABSTAIN
    elif missing:
        verdict = Verdict.GENERAL_RULE
    else:
        verdict = Verdict.ANSWER
    return Assessment(verdict, round(probability, 3), features, missing)
