"""Measure FALC drafts on real fiches nobody tuned the prompts on (`make eval-falc`).

    python -m evaluation.falc test [--limit N] [--kind service-public]   # held-out: 24 local aid, 12 service-public
    python -m evaluation.falc dev  [--limit N]   # the part the prompts were tuned on: 8 aid fiches, 3 service-public

Fiches are taken in a fixed pseudo-random order (hash of their name) from `../shared/corpora`: local aids of the
aides-jeunes catalogue (descriptions of at least 300 characters; the « Critères (machine) » block of the derived
Markdown is left out, it is not text for people) and service-public fiches of 3 to 9 kB of HTML (bounded so that the
run stays under an hour on 2 cores). Each is read by the ingestion's loader and rewritten with the configured LLM
(the embedded 1.5B model by default). Figures per part: passages whose model draft kept every fact after the retry,
passages left as their source, facts kept and invented in the final drafts, share of sentences of at most 15 words,
Kandel–Moles before → after, rule breaches per sentence, minutes per fiche; three before/after examples are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import falc.facts
import falc.meaning
import falc.rewrite
from falc.facts import compare
from falc.rewrite import writer_for
from falc.rules import measure
from falc.source import DocumentReader
from sourcier.settings import load_settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
AIDS = SHARED / "aides_jeunes_aides_locales" / "md"
SERVICE_PUBLIC = SHARED / "service_public_fiches" / "html" / "particuliers"
PARTS = {"dev": (slice(0, 8), slice(0, 3)), "test": (slice(8, 32), slice(3, 15))}
OUT = Path("build/eval/falc")


def _order(path: Path) -> str:
    return hashlib.sha1(path.stem.encode()).hexdigest()


def aid_fiches() -> list[Path]:
    chosen = []
    for path in sorted(AIDS.glob("*.md"), key=_order):
        text = path.read_text(encoding="utf-8")
        description = text.split("## Description", 1)[-1].split("## Conditions", 1)[0]
        if "## Description" in text and len(description.strip()) >= 300:
            chosen.append(path)
    return chosen


def service_public_fiches() -> list[Path]:
    return [p for p in sorted(SERVICE_PUBLIC.glob("*.html"), key=_order) if 3_000 <= p.stat().st_size <= 9_000]


def prepared(path: Path, folder: Path) -> Path:
    """The aid fiche without its machine criteria (YAML for a simulator, not text for people)."""
    if path.suffix != ".md":
        return path
    target = folder / path.name
    target.write_text(re.split(r"^## Critères \(machine\)", path.read_text(encoding="utf-8"), flags=re.M)[0])
    return target


@dataclass
class FicheResult:
    name: str
    kind: str
    passages: int
    model_kept_facts: int  # passages whose model draft kept every fact (after the retry)
    first_try: int  # ... at the first try
    kept_source: int  # passages left as their source, to rewrite by hand
    as_is: int  # « label : value » lines kept as written, not sent to the model
    patched: int  # model drafts completed with the source sentences stating the facts they lost
    facts_source: int
    facts_missing: int  # in the final draft
    facts_invented: int
    sentences: int
    short_share: float
    kandel_moles_before: float
    kandel_moles_after: float
    breaches_per_sentence: float
    uncommon_before: float
    uncommon_after: float
    seconds: float
    conditions_open: int  # passages whose final draft still loses a condition (by the check)
    fragments: int  # sentences without a verb in the final drafts
    dropped: int  # model sentences taken out as saying what the source does not
    before: str
    after: str
    failures: list[dict]  # passages left as their source: the model's rejected draft and what it lost or added


def run_one(path: Path, kind: str, writer, reader: DocumentReader, folder: Path) -> FicheResult:
    document = reader.read(prepared(path, folder), name=path.name)
    started = time.monotonic()
    draft = writer.write(document)
    seconds = time.monotonic() - started
    source_text = "\n".join(p.source for p in draft.passages)
    draft_text = "\n".join(p.draft for p in draft.passages)
    checks = [compare(p.source, p.draft) for p in draft.passages]
    meanings = [p.meaning() for p in draft.passages]
    before, after = measure(source_text), measure(draft_text)
    return FicheResult(
        name=path.name,
        kind=kind,
        passages=len(draft.passages),
        model_kept_facts=sum(not p.kept_source and not p.as_is and not p.patched for p in draft.passages),
        patched=sum(bool(p.patched) for p in draft.passages),
        first_try=sum(not p.kept_source and not p.as_is and p.attempts - p.shortened == 1 for p in draft.passages),
        kept_source=sum(p.kept_source for p in draft.passages),
        as_is=sum(p.as_is for p in draft.passages),
        facts_source=sum(len(set(_keys(p.source))) for p in draft.passages),
        facts_missing=sum(len(c.missing) for c in checks),
        facts_invented=sum(len(c.invented) for c in checks),
        sentences=len(after.sentences),
        short_share=after.short_share,
        kandel_moles_before=before.kandel_moles,
        kandel_moles_after=after.kandel_moles,
        breaches_per_sentence=after.breaches / max(len(after.sentences), 1),
        uncommon_before=before.uncommon_share,
        uncommon_after=after.uncommon_share,
        seconds=seconds,
        conditions_open=sum(not m.ok for m in meanings),
        fragments=sum(len(m.fragments) for m in meanings),
        dropped=sum(len(p.dropped) for p in draft.passages),
        before=source_text,
        after=draft_text,
        failures=[_failure(p) for p in draft.passages if p.kept_source or p.patched],
    )


def _failure(passage) -> dict:
    check = compare(passage.source, passage.rejected)
    return {
        "source": passage.source,
        "rejected": passage.rejected,
        "missing": [fact.written for fact in check.missing],
        "invented": [fact.written for fact in check.invented],
    }


def _keys(text: str) -> list[str]:
    from falc.facts import facts

    return list(facts(text))


def summary(results: list[FicheResult]) -> dict:
    passages = sum(r.passages for r in results) or 1
    sent = sum(r.passages - r.as_is for r in results) or 1  # passages the model rewrote
    sentences = sum(r.sentences for r in results) or 1
    rewritten = [r for r in results if r.model_kept_facts]
    return {
        "fiches": len(results),
        "passages": passages,
        "as_is": sum(r.as_is for r in results),
        "model_kept_facts": sum(r.model_kept_facts for r in results) / sent,
        "first_try": sum(r.first_try for r in results) / sent,
        "kept_source": sum(r.kept_source for r in results) / sent,
        "patched": sum(r.patched for r in results) / sent,
        "facts_in_sources": sum(r.facts_source for r in results),
        "facts_missing": sum(r.facts_missing for r in results),
        "facts_invented": sum(r.facts_invented for r in results),
        "short_share": sum(r.short_share * r.sentences for r in results) / sentences,
        "kandel_moles_before": _mean([r.kandel_moles_before for r in results]),
        "kandel_moles_after": _mean([r.kandel_moles_after for r in results]),
        "breaches_per_sentence": sum(r.breaches_per_sentence * r.sentences for r in results) / sentences,
        "uncommon_before": _mean([r.uncommon_before for r in results]),
        "uncommon_after": _mean([r.uncommon_after for r in results]),
        "minutes_per_fiche": _mean([r.seconds for r in results]) / 60,
        "conditions_open": sum(r.conditions_open for r in results),
        "fragments_share": sum(r.fragments for r in results) / sentences,
        "dropped": sum(r.dropped for r in results),
        "fully_rewritten_fiches": sum(r.kept_source == 0 for r in rewritten),
    }


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_summary(label: str, figures: dict) -> None:
    print(
        f"{label}: {figures['fiches']} fiches, {figures['passages']} passages ({figures['as_is']} label : value lists "
        "kept as written) — of the others, model drafts keeping every fact "
        f"{figures['model_kept_facts']:.0%} (first try {figures['first_try']:.0%}), completed with source sentences "
        f"{figures['patched']:.0%}, left as source {figures['kept_source']:.0%}; final drafts: "
        f"{figures['facts_missing']} facts missing, "
        f"{figures['facts_invented']} invented (of {figures['facts_in_sources']}); sentences ≤ 15 words "
        f"{figures['short_share']:.0%}; Kandel–Moles {figures['kandel_moles_before']:.0f} → "
        f"{figures['kandel_moles_after']:.0f}; uncommon words {figures['uncommon_before']:.0%} → "
        f"{figures['uncommon_after']:.0%}; rule breaches {figures['breaches_per_sentence']:.2f} a sentence; "
        f"passages still losing a condition (check) {figures['conditions_open']}; sentences without a verb "
        f"{figures['fragments_share']:.1%}; model sentences dropped as additions {figures['dropped']}; "
        f"{figures['minutes_per_fiche']:.1f} min a fiche"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--limit", type=int, default=None, help="fiches of each kind (a quick look)")
    parser.add_argument("--kind", choices=["aide locale", "service-public"], default=None, help="only this kind")
    args = parser.parse_args(argv)
    if not AIDS.is_dir() or not SERVICE_PUBLIC.is_dir():
        print(f"Corpus partagé introuvable : {SHARED}", file=sys.stderr)
        return 2
    settings = load_settings()
    writer = writer_for(settings)
    aids_part, sp_part = PARTS[args.part]
    fiches = [(p, "aide locale") for p in aid_fiches()[aids_part][: args.limit]]
    fiches += [(p, "service-public") for p in service_public_fiches()[sp_part][: args.limit]]
    fiches = [(path, kind) for path, kind in fiches if args.kind in (None, kind)]
    out = OUT / args.part
    (out / "prepared").mkdir(parents=True, exist_ok=True)
    # Each fiche's result is kept as it ends: a run stopped midway (a long run on 2 cores, a server that died) goes on
    # where it stopped — with the same model and the same prompts and checks (their code's hash names the file).
    modules = (falc.rewrite, falc.facts, falc.meaning)
    code = hashlib.sha1(b"".join(Path(m.__file__).read_bytes() for m in modules)).hexdigest()[:8]
    done_file = out / f"done-{_slug(writer.backend.label)}-{code}.jsonl"
    done = {}
    if done_file.exists():
        for line in done_file.read_text(encoding="utf-8").splitlines():
            result = FicheResult(**json.loads(line))
            done[(result.name, result.kind)] = result
    results = []
    with DocumentReader(settings) as reader:
        for index, (path, kind) in enumerate(fiches, start=1):
            if (path.name, kind) in done:
                results.append(done[(path.name, kind)])
                continue
            result = run_one(path, kind, writer, reader, out / "prepared")
            results.append(result)
            with done_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
            print(
                f"[{index}/{len(fiches)}] {path.name}: {result.passages} passages, {result.patched} completed, "
                f"{result.kept_source} left as source, ≤15 words {result.short_share:.0%}, "
                f"KM {result.kandel_moles_before:.0f} → "
                f"{result.kandel_moles_after:.0f}, {result.seconds:.0f} s",
                flush=True,
            )
    kinds = [kind for kind in ("aide locale", "service-public") if any(r.kind == kind for r in results)]
    figures = {kind: summary([r for r in results if r.kind == kind]) for kind in kinds}
    figures["all"] = summary(results)
    for label, values in figures.items():
        print_summary(label, values)
    (out / "results.json").write_text(
        json.dumps(
            {"model": writer.backend.label, "figures": figures, "fiches": [asdict(r) for r in results]},
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"Résultats : {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
