"""Stale local copies: a local note that still states a figure of an older version of a rule, beside the rule's
current text under another title and in another folder. Does the quality report link the two, figures side by side,
and how often does it link statements about different things?

    python -m evaluation.stale_copies build/eval/stale     # builds the set, indexes it, reports dev and test

The set, from ../shared/corpora:
- current texts: the latest version of CGCT articles (`reglementation/`) and of local aids whose amount changed
  (`aides/`, written as the fiche a collectivité publishes);
- stale notes: for each of them, the paragraphs of an older version that state a figure the current text no longer
  states (the most recent such version: an internal memo written a few years ago), under a memo's title in
  `notes-internes/` (CGCT) or `accueil/` (aids);
- distractors: service-public fiches (`fiches/`), unrelated to both.
Each note and its current text belong to the dev or the test part by hash of the article or aid: thresholds and rules
are chosen on dev; test is only measured.

Figures: share of notes linked to their current text by a contradiction (or a version) finding that shows the old
and the new figure; share of cross-document contradictions that link anything else (a note to another text, two
current texts, a fiche) — statements about different things.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from difflib import SequenceMatcher
from pathlib import Path

from evaluation.quality_set import _figures, aid_markdown
from quality.facts import _WORD_NUMBERS
from sourcier.french import fold

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DISTRACTORS = 120  # service-public fiches
COUNTERPART = 0.6  # word-sequence similarity of a paragraph and its current wording (difflib's ratio)


def part(key: str) -> str:
    return "test" if hashlib.sha256(key.encode()).digest()[0] % 2 else "dev"


def _slug(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip() and not p.strip().startswith(("<!--", "#"))]


def _stale_paragraphs(older: str, current: str) -> list[str]:
    """Paragraphs of the older text stating a figure the current text does not state, whose rule the current text
    still states (a paragraph of it reads mostly the same, with another figure): a paragraph the law dropped has no
    current statement to be shown beside."""
    gone = _figures(older) - _figures(current)
    kept = []
    for paragraph in _paragraphs(older):
        if not (_figures(paragraph) & gone):
            continue
        words = paragraph.lower().split()
        counterpart = max(
            (SequenceMatcher(None, words, other.lower().split()).ratio() for other in _paragraphs(current)), default=0
        )
        if counterpart >= COUNTERPART:
            kept.append(paragraph)
    return kept[:2]


def _pairs_of(versions: list[tuple[str, str]]) -> tuple[str, str, list[str]] | None:
    """(current text, older text, stale paragraphs) with the most recent older version that states another figure."""
    current = versions[-1][1]
    for _, older in reversed(versions[:-1]):
        stale = _stale_paragraphs(older, current)
        if stale:
            return current, older, stale
    return None


def prepare(shared: Path, out: Path) -> dict:
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    labels: dict = {"notes": []}

    def write(relative: str, text: str) -> str:
        (corpus / relative).parent.mkdir(parents=True, exist_ok=True)
        (corpus / relative).write_text(text, encoding="utf-8")
        return relative

    for article in sorted(p for p in (shared / "cgct_versions").iterdir() if p.is_dir()):
        files = sorted(article.glob("*.md"))
        found = _pairs_of([(f.name, f.read_text(encoding="utf-8")) for f in files])
        if not found:
            continue
        current, _, stale = found
        current_path = write(f"reglementation/{article.name}.md", re.sub(r"^<!--.*?-->\n", "", current, flags=re.S))
        memo = "\n\n".join(stale)
        note = write(
            f"notes-internes/memo-{_slug(article.name)}.md",
            f"# Mémo du service : {' '.join(stale[0].split()[:8])}…\n\nRappel des règles à appliquer par le "
            f"service (extrait de la réglementation).\n\n{memo}\n\nPour toute question, voir le secrétariat général.\n",
        )
        labels["notes"].append(_label(note, current_path, stale, current, article.name))

    aids = shared / "aides_jeunes_aides_locales" / "versions"
    for aid in sorted(p for p in aids.iterdir() if p.is_dir()):
        versions = [aid_markdown(f.read_text(encoding="utf-8")) for f in sorted(aid.glob("*.yml"))]
        found = _pairs_of([(label, text) for label, text in versions])
        if not found:
            continue
        current, _, stale = found
        label = versions[-1][0]
        current_path = write(f"aides/{aid.name}.md", current)
        note = write(
            f"accueil/fiche-accueil-{_slug(aid.name)}.md",
            f"# Fiche d'accueil du public\n\nÀ donner aux usagers qui demandent « {label} ».\n\n"
            + "\n\n".join(stale)
            + "\n",
        )
        labels["notes"].append(_label(note, current_path, stale, current, aid.name))

    fiches = (shared / "service_public_fiches" / "html" / "particuliers").glob("*.html")
    fiches = sorted(fiches, key=lambda path: _slug(path.name))
    for fiche in fiches[:DISTRACTORS]:
        write(f"fiches/{fiche.name}", fiche.read_text(encoding="utf-8"))
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
    return labels


def _label(note: str, current_path: str, stale: list[str], current: str, key: str) -> dict:
    old = sorted({f"{value} {unit}" for value, unit in set().union(*map(_figures, stale)) - _figures(current)})
    return {"note": note, "current": current_path, "old_figures": old, "part": part(key)}


def _figure_tokens(text: str) -> set[str]:
    """Numbers as digits (« 1 000 » → « 1000 ») and number words (« neuf ») of a text."""
    digits = {re.sub(r"[  .,]", "", n) for n in re.findall(r"\d[\d  .,]*\d|\d", text)}
    return digits | {word for word in re.findall(r"\w+", fold(text)) if word in _WORD_NUMBERS}


def _old_tokens(label: dict) -> set[str]:
    values = {figure.split()[0].lower() for figure in label["old_figures"]}
    return values | {str(_WORD_NUMBERS[v]) for v in values if v in _WORD_NUMBERS}


def score(report: dict, labels: dict) -> dict:
    """Recall of stale notes and the share of cross-document contradictions linking other things, per part."""
    pairs = {frozenset((n["note"], n["current"])): n for n in labels["notes"]}
    part_of_path = {path: n["part"] for n in labels["notes"] for path in (n["note"], n["current"])}
    linked: dict[str, set[str]] = {}  # note → how it is linked to its current text
    cross = {"dev": [0, 0], "test": [0, 0], "fiches": [0, 0]}  # [wrong, all]
    wrong_examples = []
    for finding in report["findings"]:
        paths = frozenset(place["path"] for place in finding["places"])
        if finding["type"] not in {"contradiction", "superseded", "duplicate"} or len(paths) < 2:
            continue
        label = pairs.get(paths)
        if label:
            shown = " ".join(finding["evidence"]) + " " + finding["explanation"]
            if _old_tokens(label) & _figure_tokens(shown):
                linked.setdefault(label["note"], set()).add(finding["type"])
        if finding["type"] == "contradiction":
            bucket = next((part_of_path[p] for p in paths if p in part_of_path), "fiches")
            cross[bucket][1] += 1
            if not label:
                cross[bucket][0] += 1
                wrong_examples.append((sorted(paths), finding["explanation"][:160]))
    result = {}
    for name in ("dev", "test"):
        notes = [n for n in labels["notes"] if n["part"] == name]
        by_contradiction = sum("contradiction" in linked.get(n["note"], ()) for n in notes)
        result[name] = {
            "notes": len(notes),
            "flagged": round(sum(n["note"] in linked for n in notes) / len(notes), 3),
            "flagged_as_contradiction": round(by_contradiction / len(notes), 3),
            "cross_document_contradictions": cross[name][1],
            "linking_different_things": round(cross[name][0] / cross[name][1], 3) if cross[name][1] else 0.0,
        }
    result["fiches_only_contradictions"] = cross["fiches"]
    result["wrong_examples"] = wrong_examples[:12]
    return result


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    labels = prepare(SHARED, out)
    env = {
        **os.environ,
        "SOURCIER_CORPUS_DIR": str(out / "corpus"),
        "SOURCIER_STORE__PATH": str(out / "vectorstore"),
        "SOURCIER_INGEST__OCR": "false",
    }
    if not (out / "vectorstore").exists() or "--reindex" in argv:
        shutil.rmtree(out / "vectorstore", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "ui.cli", "ingest", "--quiet", "--no-report"], env=env, check=True)
    os.environ.update(env)
    from quality.report import build_report
    from sourcier.settings import Settings

    report = build_report(Settings(), progress=lambda _: None).to_dict()
    print(json.dumps(score(report, labels), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
