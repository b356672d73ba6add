"""The quality report's precision/recall per finding type on the labelled dev set of `evaluation.quality_set`,
and the sentence-pair judgement on French NLI pairs."""

from __future__ import annotations

from pathlib import Path

from quality.facts import conflicting_facts, extract_facts, opposite_statements


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
