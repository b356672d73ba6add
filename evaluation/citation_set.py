"""A labelled set for the citation check: (sentence, cited extracts, supported?) from real answers.

    python -m evaluation.citation_set generate build/eval/servicepublic 40   # answers of the configured LLM
    python -m evaluation.citation_set                                          # test-part figures
    python -m evaluation.citation_set dev                                      # with the mistakes, for tuning

`generate` asks the embedded model (or whatever backend is configured) questions of the service-public abstention
set and writes every sentence of its answers with the extracts it was shown to `build/citation_unlabelled.jsonl`;
each was then labelled by reading the extract (`label`: true when the cited extract states the sentence) and kept in
`data/citations.jsonl`. To these real sentences the set adds the cases that let wrong answers through before (a
swapped subject, another service's hours, a named town's council) and, for each supported sentence that carries
one, its corruptions: a figure changed, the negation flipped, the subject replaced by another noun of the answer
(labelled unsupported). The part (dev or test) follows the question, so no fiche is in both.

The check's job is to flag what is wrong: « positive » below means flagged as unsupported.

The extracts come from service-public.fr fiches (DILA, Licence Ouverte / Etalab 2.0), as shipped in
../shared/corpora/service_public_fiches (see its SOURCE.md); the answers are the embedded model's.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from evaluation.questions import held_out
from sourcier.access import Reader

DATA = Path(__file__).parent / "data" / "citations.jsonl"
UNLABELLED = Path("build/citation_unlabelled.jsonl")


@dataclass
class Case:
    question: str
    sentence: str  # with its [n] markers, as the model wrote it
    extracts: list[str]  # what the model was shown (title first line)
    label: bool  # the cited extract states it
    origin: str  # "answer" (real), "known" (a failure reported before), or the corruption applied
    part: str

    @classmethod
    def read(cls, line: str) -> Case:
        data = json.loads(line)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k != "part"}, part=_part(data["question"]))


def _part(question: str) -> str:
    return "test" if held_out(question) else "dev"


def generate(set_dir: Path, count: int, out_path: Path = UNLABELLED) -> None:
    import os

    os.environ["SOURCIER_CORPUS_DIR"] = str(set_dir / "corpus")
    os.environ["SOURCIER_STORE__PATH"] = str(set_dir / "vectorstore")
    from rag.chain import Answerer
    from rag.citations import split_sentences
    from rag.prompts import shown_text
    from sourcier.settings import Settings

    settings = Settings()
    answerer = Answerer.from_settings(settings)
    cases = [json.loads(line) for line in (set_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    answerable = [c for c in cases if c["kind"] == "answerable"][::3][:count]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as out:
        for number, case in enumerate(answerable, start=1):
            answer = answerer.ask(case["question"], reader=Reader.system("évaluation"))
            if answer.abstained or not answer.backend:
                continue
            shown = [shown_text(s.title, s.shown) for s in answer.sources]
            for sentence in split_sentences(answer.text):
                row = {
                    "question": case["question"],
                    "sentence": sentence,
                    "extracts": shown,
                    "label": None,
                    "answer": answer.text,
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{number}/{len(answerable)} {answer.total_s:.0f} s — {case['question']}", flush=True)


_FIGURE = re.compile(r"\b(\d+)\b")


def corruptions(case: Case) -> list[Case]:
    """Wrong versions of a supported sentence: a figure changed, the negation flipped, the subject swapped."""
    from rag.citations import about

    made: list[tuple[str, str]] = []
    figure = _FIGURE.search(case.sentence.split("[")[0])
    if figure:
        changed = str(int(figure.group(1)) * 2 + 1)
        made.append(("figure", case.sentence[: figure.start()] + changed + case.sentence[figure.end() :]))
    flipped = _flip_negation(case.sentence)
    if flipped:
        made.append(("negation", flipped))
    subject = about(re.sub(r"\s*\[\d+\]", "", case.sentence))
    if subject:
        replacement = _other_noun(case, subject)
        if replacement:
            made.append(("subject", re.sub(rf"\b{re.escape(subject[0])}\b", replacement, case.sentence, count=1)))
    return [
        Case(case.question, sentence, case.extracts, False, origin, case.part)
        for origin, sentence in made
        if sentence != case.sentence
    ]


_VERB_NEGATION = re.compile(r"\b(n'|ne )(\w+) (pas|plus|jamais) ")
_COPULA = re.compile(r"\b(est|sont|peut|peuvent|doit|doivent|a|ont|faut)\b")


def _flip_negation(sentence: str) -> str | None:
    negated = _VERB_NEGATION.search(sentence)
    if negated:
        return sentence[: negated.start()] + negated.group(2) + " " + sentence[negated.end() :]
    verb = _COPULA.search(sentence)
    if not verb:
        return None
    word = verb.group(1)
    prefix = "n'" if word[0] in "aeiou" else "ne "
    return sentence[: verb.start()] + f"{prefix}{word} pas" + sentence[verb.end() :]


# Nouns an administrative answer may be about, to swap a subject with one that is plausible but wrong.
_SWAPS = ["dossier", "certificat", "formulaire", "demande", "contrat", "permis", "mairie", "préfecture", "agent"]


def _other_noun(case: Case, subject: tuple[str, ...]) -> str | None:
    from sourcier.french import content_terms

    shown = set(content_terms(" ".join(case.extracts)))
    for noun in _SWAPS:
        if noun != subject[0].lower() and not set(content_terms(noun)) & shown:
            return noun
    return None


def load(part: str) -> list[Case]:
    cases = [Case.read(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [c for c in cases if c.part == part]
    return cases + [bad for c in cases if c.label and c.origin == "answer" for bad in corruptions(c)]


def score(part: str, show_mistakes: bool = False) -> dict:
    from rag.citations import check_answer

    cases = load(part)
    flagged = []
    for case in cases:
        (checked,) = check_answer(case.sentence, case.extracts)[:1]
        flagged.append(not checked.supported)
        if show_mistakes and flagged[-1] == case.label:
            verdict = "flagged a supported sentence" if case.label else "let a wrong sentence pass"
            print(f"[{case.origin}] {verdict}: {case.sentence}\n   → {checked.doubt} (support {checked.support})")
    wrong = [not c.label for c in cases]
    true_positive = sum(f and w for f, w in zip(flagged, wrong, strict=True))
    by_origin: dict[str, list[int]] = {}
    for case, flag in zip(cases, flagged, strict=True):
        caught = by_origin.setdefault(case.origin, [0, 0])
        caught[0] += flag != case.label
        caught[1] += 1
    return {
        "sentences": len(cases),
        "unsupported": sum(wrong),
        "precision": round(true_positive / sum(flagged), 3) if any(flagged) else None,
        "recall": round(true_positive / sum(wrong), 3) if any(wrong) else None,
        "right_by_origin": {origin: f"{right}/{total}" for origin, (right, total) in sorted(by_origin.items())},
    }


def summary(path: Path) -> dict:
    """What the generated answers look like: how much is copied, how many carry markers, how many sentences the
    check supports, how many use a list (`python -m evaluation.citation_set summary FILE`)."""
    from rag.citations import check_answer
    from rag.evaluate import copied_share

    answers: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        answer = answers.setdefault(row["question"], {"sentences": [], "extracts": row["extracts"]})
        answer["sentences"].append(row["sentence"])
    copied, marked, supported, listed = [], [], [], []
    for answer in answers.values():
        text = "\n".join(answer["sentences"])
        copied.append(copied_share(text, answer["extracts"]))
        marked.append(bool(re.search(r"\[\d+\]", text)))
        listed.append(any(re.match(r"\s*(-|\d{1,2}[.)])\s", s) for s in answer["sentences"]))
        checked = [c for c in check_answer(text, answer["extracts"]) if not c.is_abstention]
        supported += [c.supported for c in checked]
    count = len(answers)
    return {
        "answers": count,
        "copied_share": round(sum(copied) / count, 3),
        "with_markers": round(sum(marked) / count, 3),
        "with_a_list": round(sum(listed) / count, 3),
        "sentences_supported": round(sum(supported) / len(supported), 3),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["summary"]:
        print(json.dumps(summary(Path(argv[1])), ensure_ascii=False))
        return 0
    if argv[:1] == ["generate"]:
        generate(Path(argv[1]), int(argv[2]) if len(argv) > 2 else 40, *(Path(a) for a in argv[3:4]))
        return 0
    part = argv[0] if argv else "test"
    figures = score(part, show_mistakes=part == "dev")
    print(f"{part}: {json.dumps(figures, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
