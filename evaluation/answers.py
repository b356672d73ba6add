"""Compare answer runs question by question: `sourcier eval --llm --output RUN.json` records every answer.

    python -m evaluation.answers RUN.json [OTHER.json …]

For each run: answerable questions answered, key terms over all answerable ones (a refusal counts 0), key terms on the
questions every run answered, citation validity, and how many answers go through the extracts one list item each
in their order (a shape: the list of a fiche's parts has it too, but it is how the small model wrote answers from
passages that did not bear on the question). With two runs, the questions whose key terms moved.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

_ITEM = re.compile(r"^\s*(?:[-•*–]|\d{1,2}[.)])\s+")
_MARKER = re.compile(r"\[(\d{1,2})\]")


def hybrid_answers(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise SystemExit(f"{path} : fichier absent")
    results = json.loads(path.read_text(encoding="utf-8"))
    run = next((r for r in results if r["mode"] == "hybrid"), results[0])
    if not run.get("answers"):
        raise SystemExit(f"{path} : aucune réponse enregistrée (lancez sourcier eval avec --llm)")
    return {record["question"]: record for record in run["answers"]}


def summary(answers: dict[str, dict], common: set[str]) -> dict:
    answerable = [r for r in answers.values() if not r["expect_abstain"]]
    answered = [r for r in answerable if not r["abstained"]]
    unanswerable = [r for r in answers.values() if r["expect_abstain"]]
    return {
        "answered": f"{len(answered)}/{len(answerable)}",
        "unanswerable_refused": f"{sum(r['abstained'] for r in unanswerable)}/{len(unanswerable)}",
        "key_terms_all": _mean([r.get("key_terms", 0.0) for r in answerable]),
        "key_terms_common": _mean([answers[q].get("key_terms", 0.0) for q in common]),
        "citation_validity": _mean([r["supported"] for r in answered if "supported" in r]),
        "one_item_per_extract": sum(lists_one_item_per_extract(r["answer"]) for r in answered),
    }


def lists_one_item_per_extract(answer: str) -> bool:
    """At least three list items, the first three citing [1], [2], [3], one each."""
    items = [line for line in answer.splitlines() if _ITEM.match(line)]
    cited = [set(_MARKER.findall(item)) for item in items[:3]]
    return len(items) >= 3 and cited == [{"1"}, {"2"}, {"3"}]


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    runs = {path.name: hybrid_answers(path) for path in args.runs}
    common = set.intersection(*({q for q, r in answers.items() if "key_terms" in r} for answers in runs.values()))
    print(f"questions answered by every run: {len(common)}")
    for name, answers in runs.items():
        print(name, json.dumps(summary(answers, common), ensure_ascii=False))
    if len(runs) == 2:
        (_, first), (_, second) = runs.items()
        moved = sorted(
            (second[q].get("key_terms", 0.0) - first[q].get("key_terms", 0.0), q) for q in first.keys() & second.keys()
        )
        for delta, question in [m for m in moved if m[0]]:
            print(f"{delta:+.2f}  {question}")


if __name__ == "__main__":
    main()
