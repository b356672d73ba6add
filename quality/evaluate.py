"""A labelled dev set for the quality report, built from ../shared/corpora, and its precision/recall per finding type.

Labels come from the datasets' own documentation (SOURCE.md: which Putanges PDFs are scans, which files are
duplicates, which texts exist in three formats) and from the version histories (consecutive versions of one CGCT
article or one aid; a pair "changes a figure" when the figures-with-units of the two texts differ — an independent,
deliberately simple rule).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from pathlib import Path

from quality.facts import conflicting_facts, extract_facts, opposite_statements

PUTANGES_SCANS = [
    "2018/cpte-rendu-registre.pdf",
    "2023/20230609-1-election-des-delegues-pour-les-elections-senatoriales-du-24-09-2023.pdf",
    "2023/pv-de-la-seance-du-cm-du-18-dec-2023-affiche-le-22-12-2023.pdf",
    "2023/pv-du-conseil-municipal-du-13-novembre-2023.pdf",
    "2024/20240909/pv-du-090924-signe.pdf",
    "2024/compte-rendu-seance-du-16-decembre-2024.pdf",
    "2024/compte-rendu-seance-du-19-fevrier-2024.pdf",
    "2024/compte-rendu-seance-du-25-novembre-2024.pdf",
    "2024/compte-rendu-seance-du-9-septembre-2024.pdf",
    "2024/pv-de-la-seance-du-19-02-2024.pdf",
    "2024/pv-du-25-mars-2024.pdf",
    "2025/compte-rendu-seance-du-3-fevrier-2025.pdf",
]
PUTANGES_TEXT = [
    "2018/compte-rendu-seance-09-avril-2018.pdf",
    "2018/seance-du-11-09-2018-deliberations.pdf",
    "2023/pv-du-conseil-municipal-du-30-01-2023.pdf",
    "2023/pv-de-la-seance-du-cm-du-5-juin-2023.pdf",
]
CGCT_ARTICLES = 15
AIDS = 12
_FIGURE = re.compile(
    r"(\d[\d  .,]*|\b(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|trente|cent))\s*"
    r"(€|euros?|%|jours?|mois|ans?|années?|habitants|heures?|semaines?|membres|conseillers|agents)(?!\w)",
    re.IGNORECASE,
)


def _flat(path: str) -> str:
    return path.replace("/", "_")


def _figures(text: str) -> set[tuple[str, str]]:
    return {(re.sub(r"[  .,]", "", m.group(1)), m.group(2).lower().rstrip("s")) for m in _FIGURE.finditer(text)}


def _aid_markdown(yml: str) -> tuple[str, str]:
    """An aid's YAML as the fiche a collectivité would publish (label, amount, description, conditions)."""
    import yaml

    data = yaml.safe_load(yml)
    label = data.get("label", "")
    institution = " ".join(part.upper() if part == "caf" else part.capitalize()
                           for part in str(data.get("institution", "")).split("_"))  # fmt: skip
    description = re.sub(r"<[^>]+>", " ", html.unescape(str(data.get("description", ""))))
    conditions = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(str(c))) for c in data.get("conditions", []) or [])
    amount = data.get("montant")
    unit = data.get("unit", "€")
    text = f"# {label}\n\n"
    if amount is not None:
        text += f"Le montant de l'aide « {label} » de {institution} est de {amount} {unit}.\n\n"
    text += f"{description.strip()}\n\n{conditions.strip()}\n"
    return label, text


def prepare(shared: Path, out: Path) -> Path:
    """Writes `out/corpus` and `out/labels.json`."""
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    labels: dict = {"scans": [], "garbled": [], "duplicate_groups": [], "version_pairs": [], "contradictions": []}

    def copy(source: Path, relative: str) -> str:
        target = corpus / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return relative

    putanges = shared / "putanges_conseil_municipal" / "docs"
    for name in PUTANGES_SCANS:
        labels["scans"].append(copy(putanges / name, f"putanges/{_flat(name)}"))
    for name in PUTANGES_TEXT:
        copy(putanges / name, f"putanges/{_flat(name)}")
    labels["duplicate_groups"].append(
        [f"putanges/{_flat('2024/20240909/pv-du-090924-signe.pdf')}",
         f"putanges/{_flat('2024/compte-rendu-seance-du-9-septembre-2024.pdf')}"]
    )  # fmt: skip

    couthenans = shared / "couthenans_commune" / "docs" / "assets"
    pair = [
        copy(couthenans / "img/202101/CR du conseil municipal 17 septembre 2021.docx", "couthenans/CR 17-09-2021.docx"),
        copy(couthenans / "pdf/CR_reunion_20210917.pdf", "couthenans/CR_reunion_20210917.pdf"),
    ]
    labels["duplicate_groups"].append(pair)
    for name in ["CR_reunion_20211126.pdf", "CR_conseil_municipal_28_10_2022.pdf"]:
        copy(couthenans / "pdf" / name, f"couthenans/{name}")

    etalab = shared / "etalab_guides_md_html"
    group = [copy(etalab / "pdf/guide-juridique.pdf", "etalab/guide-juridique.pdf")]
    labels["garbled"].append(group[0])
    for page in sorted((etalab / "md/juridique").glob("[0-9]-*.md")):
        group.append(copy(page, f"etalab/md/{page.name}"))
    for page in sorted((etalab / "html/juridique").glob("*/index.html")):
        group.append(copy(page, f"etalab/html/{page.parent.name}.html"))
    labels["duplicate_groups"].append(group)

    for page in sorted((shared / "gennevilliers_rh_guides" / "docs").glob("*.md")):
        copy(page, f"gennevilliers/{page.name}")
    labels["contradictions"].append(
        {"path": "gennevilliers/protocole_teletravail.md", "figures": [["2 jours", "1 jour"], ["4 jours", "3 jours"]]}
    )

    def versions(files: list[Path], folder: str, convert=None) -> None:
        previous = None
        for file in sorted(files):
            name = file.name
            text = file.read_text(encoding="utf-8")
            if convert:
                _, text = convert(text)
                name = file.stem + ".md"
                if previous and text == previous[1]:
                    continue  # the change was in a field the fiche does not show: not a new version of the text
            relative = f"{folder}/{name}"
            (corpus / relative).parent.mkdir(parents=True, exist_ok=True)
            (corpus / relative).write_text(text, encoding="utf-8")
            if previous:
                changed = _figures(previous[1]) != _figures(text)
                labels["version_pairs"].append({"older": previous[0], "newer": relative, "changed_figure": changed})
            previous = (relative, text)

    for article in sorted(p for p in (shared / "cgct_versions").iterdir() if p.is_dir())[:CGCT_ARTICLES]:
        versions(list(article.glob("*.md")), f"cgct/{article.name}")
    aids = shared / "aides_jeunes_aides_locales" / "versions"
    for aid in sorted(p for p in aids.iterdir() if p.is_dir() and "bafa" in p.name)[:AIDS]:
        versions(list(aid.glob("*.yml")), f"aides/{aid.name}", _aid_markdown)

    # Identical files anywhere in the set are duplicates too (some aid versions changed only hidden fields).
    by_bytes: dict[str, list[str]] = {}
    for file in sorted(corpus.rglob("*")):
        if file.is_file():
            data = file.read_bytes()
            if file.suffix == ".md":  # « exact » is the text once case, spacing and punctuation are set aside
                data = re.sub(r"\W", "", data.decode("utf-8").lower()).encode()
            by_bytes.setdefault(hashlib.sha256(data).hexdigest(), []).append(file.relative_to(corpus).as_posix())
    labelled = {path for group in labels["duplicate_groups"] for path in group}
    labels["duplicate_groups"] += [g for g in by_bytes.values() if len(g) > 1 and not set(g) & labelled]
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1))
    return out


def _prf(true_positive: int, predicted: int, expected: int) -> dict:
    precision = true_positive / predicted if predicted else None
    recall = true_positive / expected if expected else None
    return {"tp": true_positive, "predicted": predicted, "expected": expected,
            "precision": round(precision, 3) if precision is not None else None,
            "recall": round(recall, 3) if recall is not None else None}  # fmt: skip


def score(report: dict, labels: dict) -> dict:
    findings = report["findings"]
    results: dict = {}

    scans = {f["places"][0]["path"] for f in findings
             if f["type"] == "extraction" and f["details"].get("kind") in {"scan", "ocr"}}  # fmt: skip
    results["scan"] = _prf(len(scans & set(labels["scans"])), len(scans), len(labels["scans"]))
    garbled = {f["places"][0]["path"] for f in findings
               if f["type"] == "extraction" and f["details"].get("kind") == "garbled"}  # fmt: skip
    results["garbled"] = _prf(len(garbled & set(labels["garbled"])), len(garbled), len(labels["garbled"]))

    # A duplicate finding is right when all its documents belong to one labelled group; a labelled document is
    # found when a right finding puts it with another member of its group.
    groups = [set(group) for group in labels["duplicate_groups"]]
    predicted = [{p["path"] for p in f["places"]} for f in findings if f["type"] == "duplicate"]
    right = [members for members in predicted if any(members <= group for group in groups)]
    labelled = set().union(*groups)
    found_docs = set().union(*right) & labelled if right else set()
    groups_found = sum(any(members & group and members <= group for members in right) for group in groups)
    results["duplicate_groups"] = _prf(len(right), len(predicted), len(groups))
    results["duplicate_groups"]["recall"] = round(groups_found / len(groups), 3)
    results["duplicate_groups"]["recall_documents"] = round(len(found_docs) / len(labelled), 3)
    shown: dict[frozenset, bool] = {}
    for f in findings:
        if f["type"] == "superseded":
            shown[frozenset(p["path"] for p in f["places"])] = bool(f["details"].get("changes"))
        elif f["type"] == "contradiction":
            key = frozenset(p["path"] for p in f["places"])
            shown[key] = True
    changed = [p for p in labels["version_pairs"] if p["changed_figure"]]
    same = [p for p in labels["version_pairs"] if not p["changed_figure"]]
    found = sum(shown.get(frozenset((p["older"], p["newer"])), False) for p in changed)
    false_flags = sum(shown.get(frozenset((p["older"], p["newer"])), False) for p in same)
    true_versions = {frozenset((p["older"], p["newer"])) for p in labels["version_pairs"]}
    superseded = [frozenset(p["path"] for p in f["places"]) for f in findings if f["type"] == "superseded"]
    results["version_pairs_with_changed_figure_flagged"] = _prf(found, found, len(changed))
    results["superseded_precision"] = _prf(
        sum(s in true_versions for s in superseded), len(superseded), len(true_versions)
    )
    results["figure_flags_on_pairs_without_change"] = {
        "flagged": false_flags,
        "pairs": len(same),
        "rate": round(false_flags / len(same), 3) if same else None,
    }

    expected = labels["contradictions"]
    hits = 0
    for item in expected:
        for f in findings:
            if f["type"] == "contradiction" and all(p["path"] == item["path"] for p in f["places"]):
                hits += 1
                break
    contradictions = [f for f in findings if f["type"] == "contradiction"]
    results["contradiction_expected_found"] = _prf(hits, len(contradictions), len(expected))
    results["contradictions_listed"] = [
        {"places": [p["path"] for p in f["places"]], "what": f["explanation"]} for f in contradictions
    ]
    return results


def score_nli(shared: Path, limit: int | None = None) -> dict:
    """The sentence-pair judgement on French NLI pairs: how often pairs that do not contradict get flagged, and how
    many contradictions it sees (it only sees differing figures and opposite modal words, by design)."""
    rows = []
    for path in [shared / "nli_fr/rte3_fr/RTE3-FR-dev-set-3class.tsv", shared / "nli_fr/gqnli_fr/gqnli.test.fr.tsv"]:
        lines = path.read_text(encoding="utf-8").splitlines()
        header = [h.strip().lower() for h in lines[0].split("\t")]
        for line in lines[1:]:
            cells = dict(zip(header, line.split("\t"), strict=False))
            premise, hypothesis = cells.get("premise", ""), cells.get("hypothesis", "")
            label = (cells.get("label_text") or "").lower()
            if premise and hypothesis and label:
                rows.append((premise, hypothesis, label == "contradiction"))
    rows = rows[:limit] if limit else rows
    flagged_same = flagged_contra = same = contra = 0
    for premise, hypothesis, is_contradiction in rows:
        flagged = bool(
            conflicting_facts(extract_facts(premise), extract_facts(hypothesis))
            or opposite_statements(premise, hypothesis)
        )
        if is_contradiction:
            contra += 1
            flagged_contra += flagged
        else:
            same += 1
            flagged_same += flagged
    return {
        "pairs": len(rows),
        "non_contradictions_flagged": flagged_same,
        "false_flag_rate": round(flagged_same / same, 4) if same else None,
        "contradictions_flagged": flagged_contra,
        "contradiction_recall": round(flagged_contra / contra, 4) if contra else None,
    }
