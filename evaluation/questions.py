"""Question sets for `sourcier eval`: a corpus folder and a JSONL of questions with their gold documents.

Each converter reads one dataset of ../shared/corpora (see its SOURCE.md) and writes `out/corpus` and
`out/questions.jsonl`, one question per line: question, gold_docs, key_terms, expect_abstain.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"


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
    referenced Labour Code articles (as Markdown). Each request contributes up to `variants_per_request` variants;
    the held-out requests' other variants (~2,400) go to `unseen.jsonl`, for a check nothing was calibrated on:
    its `test` half was never looked at; its `dev` half is where failures may be read (never fitted on either).
    """
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
    lines_out, unseen = [], []
    for request in requests:
        gold = []
        for ref in sorted(request["refs"], key=lambda ref: ref.get("position", 99)):
            folder = folders.get(ref.get("resolved_corpus"))
            if folder and ref.get("resolved_id") and (corpus / folder[0] / f"{ref['resolved_id']}{folder[1]}").exists():
                gold.append(f"{folder[0]}/{ref['resolved_id']}{folder[1]}")
        if gold:
            part = "test" if held_out(request["title"]) else "dev"  # a request's variants stay in one part
            lines_out += [
                {"question": variant, "gold_docs": gold, "kind": "answerable", "part": part}
                for variant in request["variants"][:variants_per_request]
            ]
            if part == "test":
                looked_at = hashlib.sha256(request["title"].encode("utf-8")).digest()[2] % 2 == 0
                unseen += [
                    {
                        "question": variant,
                        "gold_docs": gold,
                        "kind": "answerable",
                        "part": "dev" if looked_at else "test",
                    }
                    for variant in request["variants"][variants_per_request:]
                ]
    _write_cases(out, unseen, "unseen.jsonl")
    return _write_cases(out, lines_out)


def held_out(key: str) -> bool:
    """The test part: a fixed half chosen by hash, never used to tune anything."""
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0


def unanswerable(kind: str) -> list[dict]:
    """Handwritten questions no document of the sets answers: `offtopic` or `near` (local specifics)."""
    lines = (DATA / f"unanswerable_{kind}.txt").read_text(encoding="utf-8").splitlines()
    return [
        {"question": q, "expect_abstain": True, "kind": kind, "part": "test" if held_out(q) else "dev"}
        for q in (line.strip() for line in lines)
        if q and not q.startswith("#")
    ]


def prepare_servicepublic(shared: Path, out: Path, share: int = 3) -> Path:
    """service_public_fiches: one fiche in `share` of the 865 (by hash: ~290, ~10 min of ingestion on 2 cores) as
    HTML with its title stripped; each fiche whose title is a question gives that question (gold: the fiche).
    With the off-topic and near-domain unanswerable questions, this is the abstention set; every case carries its
    `kind` and its `part` (dev or test, by hash of the fiche or question)."""
    source = shared / "service_public_fiches"
    rows = [line.split("\t") for line in (source / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    lines = []
    for fiche_id, audience, _type, _subject, _date, title in rows:
        if hashlib.sha256(fiche_id.encode()).digest()[1] % share:
            continue
        page = (source / "html" / audience / f"{fiche_id}.html").read_text(encoding="utf-8")
        # Titles stripped: the question must be found from the content, not from a heading that repeats it.
        page = re.sub(r"<title>.*?</title>", f"<title>Fiche {fiche_id}</title>", page, count=1, flags=re.DOTALL)
        page = re.sub(r"<h1>.*?</h1>", "", page, count=1, flags=re.DOTALL)
        path = Path(audience) / f"{fiche_id}.html"
        (out / "corpus" / path).parent.mkdir(parents=True, exist_ok=True)
        (out / "corpus" / path).write_text(page, encoding="utf-8")
        question = html.unescape(title).strip()
        if question.endswith("?"):
            lines.append(
                {
                    "question": question,
                    "gold_docs": [path.as_posix()],
                    "kind": "answerable",
                    "part": "test" if held_out(fiche_id) else "dev",
                }
            )
    return _write_cases(out, lines + unanswerable("offtopic") + unanswerable("near"))


def _write_cases(out: Path, lines: list[dict], name: str = "questions.jsonl") -> Path:
    path = out / name
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    return path


PREPARERS = {
    "faq": prepare_faq,
    "gennevilliers": prepare_gennevilliers,
    "cdtn": prepare_cdtn,
    "servicepublic": prepare_servicepublic,
}
