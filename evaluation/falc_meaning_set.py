"""The FALC meaning checks (`falc.meaning`) against a reader's judgement, on drafts nobody tuned them on.

    python -m evaluation.falc_meaning_set drafts   # the model's first drafts of new passages (needs ../shared, LLM)
    python -m evaluation.falc_meaning_set dev|test # precision and recall of the checks on the labelled part

The set (`tests/data/falc_meaning.yml`) pairs source passages with drafts and what a reader found in each draft:
the conditions it loses or whose logic it changes (« condition perdue »), its sentences that are not sentences
(« phrase incomplète ») and those that say what the source does not (« ajout »); an item with none of them is « sens
conservé ». Passages come from local aid fiches of the aides-jeunes catalogue that no FALC calibration used (past the
36 of `make eval-falc`), service-public fiches, and a département's real aid regulation (AdéFIP, Eure-et-Loir).
Drafts were made in more than one way: the embedded model's first draft with no check (`made_by: model`), and a few
written by people other than this check's author (issue 34's reviewer: `made_by: reviewer`). The dev part was read
while the rules were set; the test part only after.

Figures: conditions per passage (a passage flagged when the check finds a condition lost or split), fragments and
additions per sentence; each miss and false alarm is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from falc import meaning
from falc.facts import digits_for_words, write_dates_out
from falc.rewrite import HUMAN, PREFIX, is_field_list, protect, restore, writer_for
from sourcier.injection import neutralise
from sourcier.settings import load_settings

# AGPL passages: test data, never shipped with the product.
SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "falc_meaning.yml"
DRAFTS = Path("build/eval/falc_meaning/drafts.jsonl")


def _load() -> list[dict]:
    return yaml.safe_load(SET.read_text(encoding="utf-8"))


def measure(part: str) -> dict:
    items = [item for item in _load() if item["part"] == part]
    tally = {name: {"tp": 0, "fp": 0, "fn": 0} for name in ("condition perdue", "phrase incomplète", "ajout")}
    notes: list[str] = []

    def count(name: str, found: set[str], truth: set[str], where: str) -> None:
        tally[name]["tp"] += len(found & truth)
        tally[name]["fp"] += len(found - truth)
        tally[name]["fn"] += len(truth - found)
        notes.extend(f"  fausse alerte [{name}] {where} : « {s} »" for s in sorted(found - truth))
        notes.extend(f"  manqué [{name}] {where} : « {s} »" for s in sorted(truth - found))

    for item in items:
        check = meaning.check(item["source"], item["draft"], item.get("context", ""))
        flagged = {"oui"} if check.lost or check.split else set()
        lost = [f"{c.clause}" for c in [*check.lost, *check.split]]
        count("condition perdue", flagged, {"oui"} if item.get("lost") else set(), item["id"])
        if flagged and not item.get("lost"):
            notes.append(f"    (signalé : {lost})")
        if item.get("lost") and not flagged:
            notes.append(f"    (le lecteur : {item['lost']})")
        count("phrase incomplète", set(check.fragments), set(item.get("fragments") or []), item["id"])
        count("ajout", set(check.added), set(item.get("added") or []), item["id"])
    figures = {}
    for name, t in tally.items():
        precision = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 1.0
        recall = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 1.0
        figures[name] = {"precision": round(precision, 3), "recall": round(recall, 3), **t}
    kept = sum(not item.get("lost") for item in items)
    print(f"{part} : {len(items)} brouillons, {kept} gardent toutes leurs conditions (lecture humaine)")
    for name, f in figures.items():
        print(f"  {name:18} précision {f['precision']:.3f}  rappel {f['recall']:.3f}  ({f['tp']} vrais, "
              f"{f['fp']} fausses alertes, {f['fn']} manqués)")  # fmt: skip
    print("\n".join(notes))
    return figures


def drafts() -> None:
    """The model's first draft of each passage of the chosen files, without any check: what the checks must read."""
    from evaluation.falc import SERVICE_PUBLIC, aid_fiches, prepared, service_public_fiches
    from falc.source import DocumentReader

    regulation = (
        Path(__file__).resolve().parents[2] / "shared" / "corpora" / "aides_jeunes_aides_locales"
        / "sources_du_droit_openfisca_france_local" / "eure_et_loir_Reglement_Departemental_RSA-AdeFIP.pdf"
    )  # fmt: skip
    aids = aid_fiches()
    chosen = [(p, "dev") for p in aids[32:37]] + [(p, "test") for p in aids[37:45]]
    fiches = service_public_fiches()
    chosen += [(p, "dev") for p in fiches[15:17]] + [(p, "test") for p in fiches[17:20]] + [(regulation, "test")]
    assert SERVICE_PUBLIC.exists()
    settings = load_settings()
    writer = writer_for(settings)
    DRAFTS.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["id"] for line in DRAFTS.read_text().splitlines()} if DRAFTS.exists() else set()
    work = DRAFTS.parent / "sources"
    work.mkdir(exist_ok=True)
    with DocumentReader(settings) as reader, DRAFTS.open("a", encoding="utf-8") as out:
        for path, part in chosen:
            document = reader.read(prepared(path, work), name=path.name)
            for s_index, section in enumerate(document.sections):
                for p_index, source in enumerate(section.passages):
                    key = f"{path.stem}-{s_index}-{p_index}"
                    if key in done or len(source) < 120:
                        continue
                    text, addresses = protect(digits_for_words(write_dates_out(neutralise(source))))
                    if is_field_list(text):  # « label : value » lines: never sent to the model
                        continue
                    message = HUMAN.format(title=document.title, section=section.title, passage=text)
                    from langchain_core.messages import HumanMessage

                    reply = restore(writer._generate([*PREFIX, HumanMessage(message)]), addresses)
                    record = {
                        "id": key, "part": part, "origin": path.name, "made_by": "model",
                        "context": f"{document.title}\n{section.title}", "source": source, "draft": reply,
                    }  # fmt: skip
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    out.flush()
                    print(key, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["drafts", "dev", "test"])
    args = parser.parse_args()
    if args.what == "drafts":
        drafts()
    else:
        measure(args.what)


if __name__ == "__main__":
    main()
