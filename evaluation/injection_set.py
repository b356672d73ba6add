"""A labelled set for the injection detector: injections (and their obfuscated forms) against ordinary sentences.

Positives are hand-written (`data/injections_{dev,test}.txt`), each also in the forms an attacker obfuscates it:
zero-width characters inside words, Cyrillic look-alike letters, capitals. Negatives are the hard cases: hand-written
administrative imperatives (`data/negatives_*.txt`) and every sentence of real documents from ../shared/corpora
that uses the words injections use (ignorer, consignes, instructions, répondez, désormais, assistant, modèle…).
The dev part tunes; the test part (other documents, other hand-written sentences) is only measured.

    python -m evaluation.injection_set          # test-part figures
    python -m evaluation.injection_set dev      # with the misses, for tuning
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sourcier.injection import detect

DATA = Path(__file__).parent / "data"
CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SPLITS = ("dev", "test")
# Real documents of each part: the test part reads other collections than the dev part.
_CORPUS_GLOBS = {
    "dev": [
        "service_public_fiches/html/**/*.html",
        "etalab_guides_md_html/md/**/*.md",
        # council minutes: « Le conseil DÉCLARE que … », « il indique que … » — a verb an injection also uses
        "putanges_conseil_municipal/docs/**/*.pdf",
    ],
    "test": [
        "gennevilliers_rh_guides/docs/**/*.md",
        "cgct_markdown/code-general-des-collectivites-territoriales/**/*.md",
        "aides_jeunes_aides_locales/md/*.md",
        "couthenans_commune/docs/**/*.pdf",
    ],
}
_HARD_WORDS = re.compile(
    r"ignor|oubli|instruction|consigne|tenir compte|tenez compte|répond|devez|doit|règle|assistant|modèle|désormais"
    r"|dorénavant|système|prompt|directive|\btu\b|\bIA\b|abstraction|prioritaire|indiqu|déclar|affirm|annonc|mentionn",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]{20,400}[.!?]")
_CYRILLIC = str.maketrans({"o": "о", "e": "е", "a": "а", "c": "с", "p": "р", "i": "і"})
MAX_CORPUS_SENTENCES = 2000


def obfuscations(sentence: str) -> list[str]:
    """The sentence, with zero-width spaces inside its words, with Cyrillic look-alikes, and in capitals."""
    words = sentence.split(" ")
    zero_width = " ".join(w[: len(w) // 2] + "\u200b" + w[len(w) // 2 :] if len(w) > 4 else w for w in words)
    lookalike = " ".join(w.translate(_CYRILLIC) if i % 2 == 0 else w for i, w in enumerate(words))
    return [sentence, zero_width, lookalike, sentence.upper()]


def _lines(name: str) -> list[str]:
    path = DATA / name
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"]


def _corpus_sentences(split: str) -> list[str]:
    sample: list[str] = []
    for pattern in _CORPUS_GLOBS[split]:
        found: list[str] = []
        for path in sorted(CORPORA.glob(pattern)):
            for match in _SENTENCE.finditer(_text(path)):
                sentence = " ".join(match.group(0).split())
                if _HARD_WORDS.search(sentence):
                    found.append(sentence)
        unique = sorted(set(found))
        step = max(1, len(unique) // MAX_CORPUS_SENTENCES)  # a spread sample of each collection, the same every time
        sample += unique[::step][:MAX_CORPUS_SENTENCES]
    return sample


def _text(path: Path) -> str:
    from lxml import html
    from pypdf import PdfReader

    if path.suffix == ".pdf":  # lines joined: a PDF breaks sentences at the end of each line
        return " ".join((page.extract_text() or "").replace("\n", " ") for page in PdfReader(path).pages)
    raw = path.read_text(encoding="utf-8", errors="replace")
    return html.fromstring(raw).text_content() if path.suffix == ".html" else raw


@dataclass
class Labelled:
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)


def labelled(split: str) -> Labelled:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    positives = [form for sentence in _lines(f"injections_{split}.txt") for form in obfuscations(sentence)]
    negatives = _lines(f"negatives_{split}.txt") + _corpus_sentences(split)
    return Labelled(positives, negatives)


@dataclass
class Scores:
    precision: float
    recall: float
    positives: int
    negatives: int
    missed: list[str]
    false_alarms: list[str]


def evaluate(split: str) -> Scores:
    data = labelled(split)
    missed = [s for s in data.positives if not detect(s)]
    false_alarms = [s for s in data.negatives if detect(s)]
    caught = len(data.positives) - len(missed)
    precision = caught / (caught + len(false_alarms)) if caught + len(false_alarms) else 1.0
    return Scores(
        round(precision, 3), round(caught / len(data.positives), 3), len(data.positives), len(data.negatives),
        missed, false_alarms,
    )  # fmt: skip


def ordinary_false_alarms(per_collection: int = 400, seed: int = 3) -> tuple[int, list[str]]:
    """Every sentence of documents written by others — service-public fiches, Gennevilliers' HR guides, CGCT
    articles, local aid fiches — read as the product reads a document (`find_injections` over it): how many
    sentences, and those taken for instructions to an AI."""
    import random

    from sourcier.injection import _sentences, find_injections

    rng = random.Random(seed)
    collections = [
        "service_public_fiches/html/*/*.html",
        "gennevilliers_rh_guides/docs/*.md",
        "cgct_markdown/**/*.md",
        "aides_jeunes_aides_locales/md/*.md",
    ]
    sentences, flagged = 0, []
    for pattern in collections:
        files = sorted(CORPORA.glob(pattern))
        for path in rng.sample(files, min(per_collection, len(files))):
            text = _text(path)
            sentences += sum(1 for sentence in _sentences(text) if len(sentence.strip()) >= 20)
            flagged += [detection.sentence for detection in find_injections(text)]
    return sentences, flagged


def main(argv: list[str]) -> int:
    split = argv[0] if argv else "test"
    if split == "ordinary":
        sentences, flagged = ordinary_false_alarms()
        print(f"Injection detector on ordinary text written by others: {len(flagged)} of {sentences} sentences flagged")
        for sentence in flagged:
            print("  false alarm:", sentence)
        return 0
    scores = evaluate(split)
    print(
        f"Injection detector, {split} part: precision {scores.precision:.3f}, recall {scores.recall:.3f} "
        f"({scores.positives} injections incl. obfuscated forms, {scores.negatives} ordinary sentences; "
        f"{len(scores.missed)} missed, {len(scores.false_alarms)} false alarms)"
    )
    if split == "dev":
        for sentence in scores.missed:
            print("  missed:", sentence)
        for sentence in scores.false_alarms:
            print("  false alarm:", sentence)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
