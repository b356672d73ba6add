"""French text normalisation shared by lexical retrieval and the citation check."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_STEMMER = snowballstemmer.stemmer("french")
# Single letters left by elisions (« l'état », « qu'il ») are stop words too.
_ELIDED = frozenset({"l", "d", "s", "n", "c", "j", "qu", "m", "t", "y", "a"})


@cache
def stop_words() -> frozenset[str]:
    """spaCy's French stop words, folded. The list's own file is read, without importing spaCy's French package:
    its tokenizer exceptions compile for ~8 s on a busy 2-core server, which every question of a fresh process
    (`sourcier ask`, the app's first answer) paid for a word list."""
    spacy = importlib.util.find_spec("spacy")
    if spacy is None or spacy.origin is None:
        raise ModuleNotFoundError("spaCy")
    path = Path(spacy.origin).parent / "lang" / "fr" / "stop_words.py"
    spec = importlib.util.spec_from_file_location("_sourcier_spacy_fr_stop_words", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a plain set of words, no import: see spacy/lang/fr/stop_words.py
    return frozenset(fold(word) for word in module.STOP_WORDS) | _ELIDED


def fold(text: str) -> str:
    """Lower case without accents: « Délibération » and « deliberation » meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def content_terms(text: str, leaving: frozenset[str] = frozenset()) -> list[str]:
    """Stemmed content words and numbers, stop words removed, and the words of `leaving` (see `words`): they are
    left out as written, before stemming — « faut » (from « faut-il ») and « fautes » share a stem."""
    kept = (w for w in _WORD.findall(fold(text)) if w not in stop_words() and w not in leaving)
    return [_stem(w) if not w[0].isdigit() else w for w in kept]


def words(text: str) -> frozenset[str]:
    """The words of `text` as `content_terms` reads them, unstemmed: what its `leaving` takes."""
    return frozenset(_WORD.findall(fold(text)))


_NUMBER = re.compile(r"(?<![\w])(\d{1,3}(?:[   .]\d{3})+|\d+)(?:[,.](\d+))?")


def numbers(text: str) -> set[str]:
    """Numbers as written in French (« 1 500,50 », « 3 500 », « 20 »), normalised: {'1500.50', '3500', '20'}."""
    found = set()
    for match in _NUMBER.finditer(text):
        whole = re.sub(r"[   .]", "", match.group(1))
        found.add(whole + (f".{match.group(2)}" if match.group(2) else ""))
    return found


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """« 1 fichier », « 0 fichier », « 3 fichiers » (French: 0 and 1 take the singular)."""
    return f"{count} {singular if abs(count) < 2 else (plural or singular + 's')}"


@lru_cache(maxsize=2)
def parser(lemmas: bool = False):
    """spaCy's small French pipeline (a PyPI package: nothing is downloaded), for what words alone cannot tell —
    which noun a sentence is about; with `lemmas`, each word's dictionary form too. Loaded once, on first use (~2 s)."""
    import spacy

    return spacy.load("fr_core_news_sm", exclude=["ner"] if lemmas else ["ner", "lemmatizer"])


@lru_cache(maxsize=1)
def _entities():
    """spaCy's small French pipeline, its named-entity recogniser only (~5 s to load, ~10 ms a sentence)."""
    import spacy

    return spacy.load("fr_core_news_sm", exclude=["parser", "lemmatizer", "morphologizer", "attribute_ruler"])


def people(text: str) -> list[tuple[int, int]]:
    """Where `text` names a person (« Marie Dupont », « Jean-Pierre Martin »), by the recogniser: character spans."""
    return [
        (e.start_char, e.end_char)
        for e in _entities()(text).ents
        if e.label_ == "PER" and any(c.isupper() for c in e.text)
    ]


_UNIT_ALIASES = {"euro": "€", "euros": "€", "eur": "€", "heure": "h", "heures": "h", "pourcent": "%", "pour": "%"}
_NUMBER_THEN_WORD = re.compile(
    r"(?<![\w])(\d{1,3}(?:[   .]\d{3})+|\d+)(?:[,.](\d+))?(?:\s*(%|€)|\s+(?:d'|l')?([a-zA-Zà-ÿÀ-Ý]+)(?:\s+(cent))?)?"
)


def quantities(text: str) -> dict[tuple[str, str | None], str]:
    """Each number with the word that says what it counts, and how it is written: « 3 mois » → ('3', 'mois'),
    « 1 500 € » → ('1500', '€'), « 2 jours par semaine » → ('2', 'jour'); None when the next word says nothing
    (« en 2020. »)."""
    found: dict[tuple[str, str | None], str] = {}
    for match in _NUMBER_THEN_WORD.finditer(text):
        whole = re.sub(r"[   .]", "", match.group(1)) + (f".{match.group(2)}" if match.group(2) else "")
        symbol, word, cent = match.group(3), match.group(4) and match.group(4).lower(), match.group(5)
        unit: str | None = symbol
        if word:
            folded = fold(word)
            if folded == "pour" and cent:
                unit = "%"
            elif folded in _UNIT_ALIASES:
                unit = _UNIT_ALIASES[folded]
            elif folded not in stop_words():
                unit = _stem(folded)
        written = match.group(0) if unit else text[match.start(1) : match.end(2) if match.group(2) else match.end(1)]
        found.setdefault((whole, unit), written.strip())
    return found


# Service folders are slugs (« etat-civil »); people read names (« État civil »).
_SERVICE_NAMES = {
    "etat-civil": "État civil", "cimetiere": "Cimetière", "cimetieres": "Cimetières", "elections": "Élections",
    "rh": "Ressources humaines", "ccas": "CCAS", "dgs": "Direction générale", "dsi": "Informatique (DSI)",
    "police": "Police municipale", "police-municipale": "Police municipale", "general": "Général",
    "ecoles": "Écoles", "ecole": "École", "periscolaire": "Périscolaire", "securite": "Sécurité",
    "conseil-municipal": "Conseil municipal", "marches-publics": "Marchés publics", "culture": "Culture",
}  # fmt: skip


def location(page: int | None, section: str | None) -> str:
    """Where a passage is in its document, as every page, export and command shows it: « page 3 », « section
    « Voter » », or nothing."""
    if page:
        return f"page {page}"
    return f"section « {section} »" if section else ""


def service_name(slug: str | None) -> str:
    """« etat-civil » → « État civil »; an unknown slug gets spaces and a capital (« vie-associative » → « Vie
    associative »)."""
    if not slug:
        return _SERVICE_NAMES["general"]
    known = _SERVICE_NAMES.get(slug.lower())
    if known:
        return known
    words = slug.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]
