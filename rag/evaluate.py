"""Evaluation harness: retrieval (recall@k, MRR@10 of gold documents), abstention, and — with an LLM — answers
(gold span / key terms found, citation validity), with latencies. Input: JSONL, one question per line:

    {"question": "...", "gold_docs": ["service/file.md", ...], "gold_answer": "...", "key_terms": [...],
     "expect_abstain": false}

`evaluation.datasets` turns the dev sets of ../shared/corpora into a corpus folder + such a JSONL.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.chain import Answerer
from rag.evidence import Verdict, assess
from sourcier.access import Reader
from sourcier.french import fold
from sourcier.settings import RetrievalMode

EVALUATOR = Reader.system("évaluation")  # evaluations read every document


@dataclass
class Case:
    question: str
    gold_docs: list[str] = field(default_factory=list)
    gold_answer: str | None = None
    key_terms: list[str] = field(default_factory=list)
    expect_abstain: bool = False
    kind: str | None = None  # abstention sets: answerable, offtopic (off the domain), near (local specifics)


def read_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            cases.append(Case(**{k: v for k, v in data.items() if k in Case.__dataclass_fields__}))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{number} : ligne invalide ({exc})") from exc
    return cases


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


def spread(cases: list[Case], count: int | None) -> list[Case]:
    """`count` cases taken evenly through the set (every kind of question keeps its share), or all."""
    if not count or count >= len(cases):
        return list(cases)
    step = len(cases) / count
    return [cases[int(i * step)] for i in range(count)]


def evaluate(answerer: Answerer, cases: list[Case], with_llm: bool, mode: str, llm_sample: int | None = None) -> dict:
    """Retrieval and abstention on every case; answers (slow on a CPU) on `llm_sample` of them, or all."""
    answered_by_llm = {id(case) for case in spread(cases, llm_sample)} if with_llm else set()
    answerer.retriever.mode = RetrievalMode(mode)
    ranked_k = max(10, answerer.retriever.k)  # ranking metrics look deeper than the extracts the model is shown
    config = answerer.settings.answer
    ranks, retrieval_latency, answer_latency, first_useful, first_token = [], [], [], [], []
    if answered_by_llm:
        _ = answerer.backend  # started (embedded server) before the first question: its start is not a question's wait
    abstain_true, abstain_pred = [], []
    contains, citation_validity, copied = [], [], []
    records = []  # each answer, to compare runs question by question (evaluation.answers)
    for case in cases:
        started = time.perf_counter()
        documents = answerer.retriever.invoke(case.question, k=ranked_k, reader=EVALUATOR)
        retrieval_latency.append(time.perf_counter() - started)
        ranked_docs: list[str] = []
        for document in documents:
            path = document.metadata.get("source", "")
            if path not in ranked_docs:
                ranked_docs.append(path)
        if case.gold_docs:
            rank = next((i for i, path in enumerate(ranked_docs, start=1) if path in case.gold_docs), None)
            ranks.append(rank)
        abstain_true.append(case.expect_abstain)
        if id(case) in answered_by_llm:
            answer = answerer.ask(case.question, reader=EVALUATOR)
            answer_latency.append(answer.total_s)
            if answer.first_useful_s is not None:
                first_useful.append(answer.first_useful_s)
            if answer.first_token_s is not None:
                first_token.append(answer.first_token_s)
            abstain_pred.append(answer.abstained or answer.verdict is Verdict.GENERAL_RULE)
            record = {
                "question": case.question,
                "expect_abstain": case.expect_abstain,
                "answer": answer.text,
                "abstained": answer.abstained,
            }
            if not case.expect_abstain and not answer.abstained:
                expected = [case.gold_answer] if case.gold_answer else case.key_terms
                if expected:
                    text = fold(answer.text)
                    found = sum(fold(term) in text for term in expected)
                    contains.append(found / len(expected))
                    record["key_terms"] = round(found / len(expected), 3)
                if answer.supported_share is not None:
                    citation_validity.append(answer.supported_share)
                    record["supported"] = answer.supported_share
                copied.append(copied_share(answer.text, [source.excerpt for source in answer.sources]))
                record["copied"] = copied[-1]
            records.append(record)
        else:
            # Refused, or answered « les documents ne mentionnent pas … » before a general rule — decided on what the
            # product retrieves (its last place may go to a passage that names the question's words or specifics).
            passages = answerer.retriever.invoke(case.question, k=config.extracts, reader=EVALUATOR)
            abstain_pred.append(assess(case.question, passages).verdict is not Verdict.ANSWER)

    answered = ranks  # questions with gold documents (off-topic ones have none)

    def recall(k: int) -> float | None:
        return round(sum(1 for r in answered if r and r <= k) / len(answered), 3) if answered else None

    true_positive = sum(p and t for p, t in zip(abstain_pred, abstain_true, strict=True))
    refused_by_kind = {
        kind: round(statistics.mean(p for p, c in zip(abstain_pred, cases, strict=True) if c.kind == kind), 3)
        for kind in dict.fromkeys(c.kind for c in cases if c.kind)
    }
    return {
        "mode": mode,
        "questions": len(cases),
        "recall@1": recall(1),
        "recall@5": recall(5),
        "recall@10": recall(10),
        "mrr@10": round(statistics.mean(1 / r if r and r <= 10 else 0 for r in answered), 3) if answered else None,
        "abstention_precision": round(true_positive / sum(abstain_pred), 3) if sum(abstain_pred) else None,
        "abstention_recall": round(true_positive / sum(abstain_true), 3) if sum(abstain_true) else None,
        "refused_by_kind": refused_by_kind or None,
        "answer_key_terms": round(statistics.mean(contains), 3) if contains else None,
        "citation_validity": round(statistics.mean(citation_validity), 3) if citation_validity else None,
        "copied_share": round(statistics.mean(copied), 3) if copied else None,
        "retrieval_p50_s": _percentile(retrieval_latency, 0.5),
        "retrieval_p95_s": _percentile(retrieval_latency, 0.95),
        "answer_p50_s": _percentile(answer_latency, 0.5),
        "answer_p95_s": _percentile(answer_latency, 0.95),
        "first_useful_p50_s": _percentile(first_useful, 0.5),
        "first_useful_p95_s": _percentile(first_useful, 0.95),
        "first_token_p50_s": _percentile(first_token, 0.5),
        "first_token_p95_s": _percentile(first_token, 0.95),
        "backend": answerer.backend.label if with_llm else None,
        "answers": records,
    }


COPY_RUN = 8  # words in a row taken from one extract: copied, not written


def copied_share(answer: str, extracts: list[str]) -> float:
    """The share of an answer's words that sit in runs of at least `COPY_RUN` words copied from one extract."""
    words = re.findall(r"\w+", fold(re.sub(r"\[\d+\]", " ", answer)))
    if len(words) < COPY_RUN:
        return 0.0
    best = 0
    for extract in extracts:
        runs = {tuple(g) for g in _grams(re.findall(r"\w+", fold(extract)))}
        covered = set()
        for start, gram in enumerate(_grams(words)):
            if tuple(gram) in runs:
                covered.update(range(start, start + COPY_RUN))
        best = max(best, len(covered))
    return round(best / len(words), 3)


def _grams(words: list[str]) -> list[list[str]]:
    return [words[i : i + COPY_RUN] for i in range(len(words) - COPY_RUN + 1)]
