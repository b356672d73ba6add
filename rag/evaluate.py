"""Evaluation harness: retrieval (recall@k, MRR@10 of gold documents), abstention, and — with an LLM — answers
(gold span / key terms found, citation validity), with latencies. Input: JSONL, one question per line:

    {"question": "...", "gold_docs": ["service/file.md", ...], "gold_answer": "...", "key_terms": [...],
     "expect_abstain": false}

`prepare_*` converters turn the dev sets of ../shared/corpora into a corpus folder + such a JSONL.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.chain import Answerer, evidence_is_weak
from sourcier.french import fold


@dataclass
class Case:
    question: str
    gold_docs: list[str] = field(default_factory=list)
    gold_answer: str | None = None
    key_terms: list[str] = field(default_factory=list)
    expect_abstain: bool = False


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


def evaluate(answerer: Answerer, cases: list[Case], with_llm: bool, mode: str) -> dict:
    answerer.retriever.mode = mode
    ranked_k = max(10, answerer.retriever.k)  # ranking metrics look deeper than the extracts the model is shown
    config = answerer.settings.answer
    ranks, retrieval_latency, answer_latency = [], [], []
    abstain_true, abstain_pred = [], []
    contains, citation_validity = [], []
    for case in cases:
        started = time.perf_counter()
        documents = answerer.retriever.invoke(case.question, k=ranked_k)
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
        if with_llm:
            answer = answerer.ask(case.question)
            answer_latency.append(answer.total_s)
            abstain_pred.append(answer.abstained)
            if not case.expect_abstain and not answer.abstained:
                expected = [case.gold_answer] if case.gold_answer else case.key_terms
                if expected:
                    text = fold(answer.text)
                    found = sum(fold(term) in text for term in expected)
                    contains.append(found / len(expected))
                if answer.supported_share is not None:
                    citation_validity.append(answer.supported_share)
        else:
            abstain_pred.append(
                evidence_is_weak(documents[: config.extracts], config.min_dense_score, config.min_bm25_score)
            )

    answered = ranks  # questions with gold documents (off-topic ones have none)

    def recall(k: int) -> float | None:
        return round(sum(1 for r in answered if r and r <= k) / len(answered), 3) if answered else None

    true_positive = sum(p and t for p, t in zip(abstain_pred, abstain_true, strict=True))
    return {
        "mode": mode,
        "questions": len(cases),
        "recall@1": recall(1),
        "recall@5": recall(5),
        "recall@10": recall(10),
        "mrr@10": round(statistics.mean(1 / r if r and r <= 10 else 0 for r in answered), 3) if answered else None,
        "abstention_precision": round(true_positive / sum(abstain_pred), 3) if sum(abstain_pred) else None,
        "abstention_recall": round(true_positive / sum(abstain_true), 3) if sum(abstain_true) else None,
        "answer_key_terms": round(statistics.mean(contains), 3) if contains else None,
        "citation_validity": round(statistics.mean(citation_validity), 3) if citation_validity else None,
        "retrieval_p50_s": _percentile(retrieval_latency, 0.5),
        "retrieval_p95_s": _percentile(retrieval_latency, 0.95),
        "answer_p50_s": _percentile(answer_latency, 0.5),
        "answer_p95_s": _percentile(answer_latency, 0.95),
        "backend": answerer.backend.label if with_llm else None,
    }


# --- converters for the dev sets ---------------------------------------------------------------------------


def prepare_faq(shared: Path, out: Path) -> Path:
    """faq_collectivite_golden: 70 FAQ entries as Markdown documents, 30 questions (5 off-topic)."""
    source = shared / "faq_collectivite_golden"
    faq = json.loads((source / "faq_base.json").read_text(encoding="utf-8"))["faq"]
    paths = {}
    for entry in faq:
        path = Path(entry["category"]) / f"{entry['id']}.md"
        (out / "corpus" / path).parent.mkdir(parents=True, exist_ok=True)
        (out / "corpus" / path).write_text(f"# {entry['question']}\n\n{entry['answer']}\n", encoding="utf-8")
        paths[entry["id"]] = path.as_posix()
    golden = json.loads((source / "golden_set.json").read_text(encoding="utf-8"))["golden_set"]
    lines = []
    for item in golden:
        references = item.get("faq_id_reference") or []
        references = [references] if isinstance(references, str) else references
        lines.append(
            {
                "question": item["question"],
                "gold_docs": [paths[r] for r in references if r in paths],
                "key_terms": item.get("expected_keywords", []),
                "expect_abstain": item["type"] == "hors_sujet",
            }
        )
    return _write_cases(out, lines)


def prepare_gennevilliers(shared: Path, out: Path) -> Path:
    """gennevilliers_rh_guides: the city's HR guides, 10 staff questions with the expected chapter."""
    source = shared / "gennevilliers_rh_guides"
    corpus = out / "corpus" / "rh"
    corpus.mkdir(parents=True, exist_ok=True)
    for document in (source / "docs").glob("*.md"):
        (corpus / document.name).write_text(document.read_text(encoding="utf-8"), encoding="utf-8")
    chapters = {
        "1": ["rh/guide_temps_de_travail_chapitre_1.md"],
        "2": ["rh/guide_temps_de_travail_chapitre_2.md"],
        "3": ["rh/guide_temps_de_travail_chapitre_3.md"],
        "4": ["rh/guide_temps_de_travail_chapitre_4.md"],
        "5": ["rh/reglement_interieur_formation.md"],
        "6": ["rh/protocole_teletravail.md"],
    }
    text = (source / "qa" / "test-questions.md").read_text(encoding="utf-8")
    lines = [
        {"question": question, "gold_docs": chapters[chapter]}
        for question, chapter in re.findall(r"\*\*(.+?)\*\*\s*\n\s*- Attendu: Chapitre (\d)", text)
    ]
    return _write_cases(out, lines)


def prepare_cdtn(shared: Path, out: Path, variants_per_request: int = 3) -> Path:
    """cdtn_code_du_travail_numerique: 298 expert requests with real query variants and ranked gold documents.

    The corpus holds what the gold sets point to: the 305 service-public fiches and 269 ministry fiches (HTML) and the
    referenced Labour Code articles (as Markdown). Each request contributes up to `variants_per_request` variants.
    """
    import shutil

    source = shared / "cdtn_code_du_travail_numerique"
    corpus = out / "corpus"
    (corpus / "service-public").mkdir(parents=True, exist_ok=True)
    (corpus / "ministere").mkdir(parents=True, exist_ok=True)
    (corpus / "code-du-travail").mkdir(parents=True, exist_ok=True)
    for fiche in (source / "corpus" / "fiches_service_public_travail" / "html").glob("F*.html"):
        shutil.copy(fiche, corpus / "service-public" / fiche.name)
    for fiche in (source / "corpus" / "fiches_ministere_travail_html").glob("*.html"):
        shutil.copy(fiche, corpus / "ministere" / fiche.name)
    requests = [json.loads(line) for line in (source / "eval" / "datafiller_requests_resolved.jsonl").open()]
    wanted_articles = {
        ref["resolved_id"]
        for request in requests
        for ref in request["refs"]
        if ref.get("resolved_corpus") == "code_du_travail_articles.jsonl"
    }
    with (source / "corpus" / "code_du_travail_articles.jsonl").open() as lines:
        for line in lines:
            article = json.loads(line)
            if article["id"] in wanted_articles:
                (corpus / "code-du-travail" / f"{article['id']}.md").write_text(
                    f"# Article {article['num']} du code du travail\n\n{article.get('texte') or ''}\n", encoding="utf-8"
                )
    folders = {
        "service_public": ("service-public", ".html"),
        "fiches-ministere-travail.json": ("ministere", ".html"),
        "code_du_travail_articles.jsonl": ("code-du-travail", ".md"),
    }
    lines_out = []
    for request in requests:
        gold = []
        for ref in sorted(request["refs"], key=lambda ref: ref.get("position", 99)):
            folder = folders.get(ref.get("resolved_corpus"))
            if folder and ref.get("resolved_id") and (corpus / folder[0] / f"{ref['resolved_id']}{folder[1]}").exists():
                gold.append(f"{folder[0]}/{ref['resolved_id']}{folder[1]}")
        if gold:
            lines_out += [
                {"question": variant, "gold_docs": gold} for variant in request["variants"][:variants_per_request]
            ]
    return _write_cases(out, lines_out)


def _write_cases(out: Path, lines: list[dict]) -> Path:
    path = out / "questions.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    return path


PREPARERS = {"faq": prepare_faq, "gennevilliers": prepare_gennevilliers, "cdtn": prepare_cdtn}
