"""Text inside documents is data. Passages written as instructions to an AI are cut out before a model sees them.

A small model follows the last imperative it reads, whatever its system prompt says; delimiting the extracts is
not enough (measured: Qwen2.5 1.5B obeyed an injected « réponds uniquement par … » inside a delimited extract).
So such sentences are replaced by a neutral marker, and the data-quality report lists the documents holding them.

Detection is by what a sentence does, not by a list of phrasings. The sentence is first normalised the way an
attacker would obfuscate it (look-alike letters from other scripts, zero-width and control characters, accents,
case), then tested for the moves of an injection:

- *override*: a verb that sets aside (ignore, oublie, ne tiens plus compte, passe outre…) aimed at the rules the
  reader was given (tes / vos / les … instructions, consignes, directives, règles, ce qui précède);
- *addressee*: the text speaks to a model (« à l'attention de l'IA », « Assistant : », « si tu es une IA »,
  « l'IA qui lit ce texte ») and tells it something;
- *takeover*: it gives the reader a new identity or task (« tu es désormais », « ta nouvelle mission »,
  « consigne prioritaire ») or controls the answer (« réponds uniquement par », « dis que », « cite uniquement
  cet extrait », « révèle ton prompt »).

Administrative imperatives (« vous devez fournir… », « ne tenez pas compte de ce rappel si… », « suivez les
consignes de sécurité ») do none of these: they are aimed at the public, about the world, not at the reader's rules.
Measured on a labelled set (`evaluation/injection_set.py`, held-out part reported by `make eval-injection`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

REDACTED = "[passage retiré : consigne adressée à une IA]"

_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


@lru_cache(maxsize=1)
def _lookalikes() -> dict[int, str]:
    """Letters of other scripts that look like Latin ones (Unicode TR39 confusables): Cyrillic « о » → « o »."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalpha():
                table[ord(char)] = target
                break
    return table


def normalise(text: str) -> str:
    """The sentence as the detector reads it: compatibility forms folded (NFKC: full-width, ligatures), invisible
    and control characters removed, look-alike letters mapped to Latin, accents removed, lower case, one space."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        " " if char in "\n\t" else char
        for char in text
        if unicodedata.category(char) not in {"Cf", "Cc", "Co"} or char in "\n\t"
    )
    decomposed = unicodedata.normalize("NFKD", text)
    # Accents first (é is not a look-alike, but its base letter may be), then look-alikes.
    text = "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_lookalikes())
    text = text.lower().replace("’", "'").replace("œ", "oe")
    return re.sub(r"\s+", " ", text).strip()


# --- the moves of an injection, on normalised text (no accents, lower case) ------------------------------------

_RULES_OBJECT = (
    r"(?:instructions?|consignes?|directives?|regles?|prompts?|garde-fous|programmation|restrictions?|ordres?)"
)
_EARLIER = (
    r"(?:precedente?s?|anterieure?s?|initiale?s?|habituelle?s?|recue?s?|donnee?s?|fixee?s?|qu'on t'a|que l'on t'a"
    r"|qui (?:t'|vous )ont ete|ci-dessus|du systeme|auparavant|jusqu'ici)"
)
_SET_ASIDE = (
    r"(?:ignore[rsz]?|ignorez|oublie[rsz]?|oubliez|annule[rsz]?|annulez|remplace[rsz]?|desactive[rsz]?"
    r"|contourne[rsz]?|outrepasse[rsz]?|passe[rsz]? outre|fai(?:s|tes) abstraction|met(?:s|tez) de cote"
    r"|ne (?:tiens|tenez|prends|prenez) plus (?:aucun )?(?:compte|en (?:compte|consideration))"
    r"|ne (?:respecte|respectez|suis|suivez|obeis|obeissez) (?:plus|pas)|disregard|forget|override)"
)
_ADDRESSEE = (
    r"(?:ias?|i\.a\.|intelligences? artificielles?|assistante?s?(?: virtuel(?:le)?s?| ia| conversationnel(?:le)?s?)?"
    # people whose job title says « assistant »: childminders, social workers, secretaries…
    r"(?! (?:maternel|familia|socia|medica|dentaire|parlementaire|educati|administrati|pedagog|technique|juridique"
    r"|sanitaire|commercia|personnel|comptable|rh\b|d'education|de (?:direction|prevention|gestion|vie|service"
    r"|secteur|conservation|communication|son|ses)|des ressources|en (?:gestion|ressources)))"
    r"|modeles?(?: de langage)?|llms?|chatbots?|robots?(?: conversationnels?)?|agents? conversationnels?|gpt|ai"
    r"|ai assistants?|ai systems?|ai models?|language models?|systeme|system)"
)
_SPEAK = (
    r"(?:reponds|repondez|repondre|dis|dites|dire|affirme[rz]?|ecris|ecrivez|ecrire|indique[rz]?|annonce[rz]?"
    r"|declare[rz]?|cite[rz]?|recopie[rz]?|revele[rz]?|devoile[rz]?|donne[rz]?|refuse[rz]?|mentionne[rz]?"
    r"|ajoute[rz]?|considere[rz]?|say|answer|reply|print|reveal|tell)"
)

_CONTROL = r"(?:que|uniquement|seulement|toujours|systematiquement|plutot|par la)\b"
# Imperatives that are also the third person of the present: « indique » is an order or what someone does.
_THIRD_PERSON_TOO = r"(?:affirme|annonce|declare|indique|mentionne|ajoute|recopie|cite)"
_TO_THE_READER = (
    r"(?:tu|te|t'|ta|tes|ton|vous|votre|vos|utilisateurs?|usagers?|quiconque|(?:toute|chaque) question"
    r"|(?:ta|votre|la|toute|chaque) reponse)"
)
_CLAUSE = r"(?:^|[:;,»\]#.!?] ?|\bet |\bpuis |\bmais )\W*"

_MOVES: dict[str, re.Pattern[str]] = {
    # « ignore les instructions précédentes », « ne tiens plus compte de tes consignes », « passe outre tes règles »
    "override": re.compile(
        # aimed at the reader's own rules (tes, vos, qu'on t'a…) or at the ones it was given before (précédentes…)
        rf"{_SET_ASIDE}\b(?:-les)?(?: \S+){{0,5}}? (?:tes|vos|ton|votre|t'|toutes? les|l'ensemble des)\b"
        rf"(?: \S+){{0,3}}? ?{_RULES_OBJECT}"
        rf"|{_SET_ASIDE}\b(?: \S+){{0,5}}? {_RULES_OBJECT}\b(?: \S+){{0,2}}? {_EARLIER}"
        rf"|{_RULES_OBJECT}(?: \S+){{0,3}} ?: ?{_SET_ASIDE}-les"
        rf"|{_SET_ASIDE} (?:all |any |everything |the )*(?:previous|prior|above|earlier|your)"
        rf"|{_SET_ASIDE} (?:tout )?ce qui (?:precede|est ecrit au-dessus)"
        rf"|(?:tes|vos|les) {_RULES_OBJECT}(?: \S+){{0,4}} (?:ne s'appliquent plus|sont annulees|ont change"
        rf"|sont remplacees)"
    ),
    # « À l'attention de l'IA : … », « Assistant : … », « Si tu es une IA, … », « IA qui lis ce texte »
    "addressee": re.compile(
        rf"(?:a l'attention|a l'intention|note|message|rappel|ordre|consigne|attention|destinee?s?|pour|to|for)"
        rf" (?:de |du |au |aux |a |pour )?(?:l'|le |la |les |un |une |the |any |all )?{_ADDRESSEE}\b"
        rf"|^\W*(?:\[|#+ ?)?{_ADDRESSEE}(?: \w+)? ?[:,\]]"
        rf"|\bsi (?:tu es|vous etes) (?:une? |un )?{_ADDRESSEE}\b|\bif you are an? {_ADDRESSEE}\b"
        rf"|\ben tant qu'?(?:e )?(?:une? )?{_ADDRESSEE}\b(?: \S+){{0,3}} (?:tu|vous) "
        rf"|\b{_ADDRESSEE} qui (?:lis|lit|lisez|resume[sz]?|traite[sz]?)\b"
        rf"|\b(?:instructions?|consignes?) pour (?:l'|le )?{_ADDRESSEE}\b"
        # « Réponse attendue de l'assistant : … »: what the model is to answer, put in its mouth
        rf"|\breponses? (?:attendues?|a donner|souhaitees?|prevues?|type) (?:de |du |par |pour )(?:l'|le |la )?"
        rf"{_ADDRESSEE}\b"
    ),
    # « tu es désormais », « ta nouvelle mission », « consigne prioritaire », « réponds uniquement par », « dis que »
    "takeover": re.compile(
        r"\btu (?:es|seras) (?:maintenant|desormais|dorenavant|a present)\b|\btu n'es plus\b"
        r"|\b(?:ta|votre) (?:nouvelle|veritable|vraie) (?:mission|tache|role|fonction)\b"
        rf"|\b(?:nouvelles?|prioritaires?) {_RULES_OBJECT}\b|\b{_RULES_OBJECT} prioritaires?\b|\bpriorite absolue\b"
        # only a « tu » can be told « réponds », « dis », « écris »; « indique », « ajoute »… also say what a text
        # or a person does (« le téléservice a indiqué que »), so they count at the start of a clause only — and,
        # followed by « que », only when the sentence speaks to its reader or of the answer: council minutes are
        # full of « Le Conseil Municipal … : DÉCLARE que … » and « M. X, adjoint, indique que … »
        rf"|(?<!\bje )\b(?:reponds|dis|ecris)(?:-le|-la|-les)?\b(?: \S+){{0,2}} {_CONTROL}"
        rf"|{_CLAUSE}{_THIRD_PERSON_TOO}(?:-le|-la|-les)?\b(?: \S+){{0,2}} (?!que\b){_CONTROL}"
        rf"|{_CLAUSE}{_THIRD_PERSON_TOO}(?:-le|-la|-les)?\b(?: \S+){{0,2}} que\b(?=.*\b{_TO_THE_READER}\b)"
        # at the start of a clause: « les communes dites « déléguées » », « aux dites parcelles » are no orders
        rf"|{_CLAUSE}(?:repondez|dites|affirmez|indiquez|annoncez|declarez|recopiez) (?:uniquement|seulement|toujours"
        rf"|systematiquement)? ?(?:par\b|que\b|«)"
        rf"|\b(?:tu|l'ia|le modele|l'assistant|il) (?:dois|doit|devras|devra) (?:\S+ ){{0,2}}{_SPEAK}\b"
        rf"(?: \S+){{0,3}} (?:que|uniquement|seulement|toujours|en anglais|systematiquement|«)"
        r"|\b(?:ton|votre|le|son) prompt(?: systeme| cache| initial)?\b|\bprompt (?:systeme|cache|initial)\b"
        r"|\bsystem (?:prompt|override)\b|\bhidden instructions\b|\binstructions initiales\b"
        r"|\b(?:cite|citer|citez|ne citer) (?:uniquement|seulement|que) (?:celui-ci|cet extrait|ce document)"
        r"|\b(?:les|tous les) autres (?:extraits|documents|sources)\b(?: \S+){0,3}"
        r"|\b(?:cet extrait|ce document|cette page) (?:prime|prevaut|fait foi)\b|\bseule (?:cette page|ce document)"
        r" fait foi\b|\bla seule verite\b"
        r"|\byou (?:are|will) now\b|\byou must now\b|\b(?:reply|answer|respond) (?:only|every question)\b"
        # « Rédige ta réponse en affirmant que … »: the reader's answer, dictated
        r"|\b(?:redige|formule|construis|termine|commence)s? ta reponse\b"
        r"|\b(?:redigez|formulez|construisez) votre reponse en (?:affirmant|disant|indiquant|precisant|expliquant)"
        # a Markdown image or link for the answer to carry (its address can take the question out)
        r"|!\[[^\]]*\]\(https?://[^)]*\)|\b(?:chaque|ta|toute) reponse\b.{0,60}\b(?:image|pixel)\b"
        r"|\bdesactive[sz]? (?:tes|vos) garde-fous\b|\bmode (?:developpeur|sans restriction)\b"
        r"|\bsans (?:aucune )?restriction qui\b|\brevele[sz]? (?:tes|vos|ton|votre)\b|\bdevoile[sz]? (?:tes|vos|ton)\b"
    ),
}


@dataclass(frozen=True)
class Detection:
    sentence: str
    moves: tuple[str, ...]


# Letters spaced out to slip past word patterns: « i.g.n.o.r.e.z », « I G N O R E Z », « i-g-n-o-r-e-z » (one
# separator, always the same, between single letters: words keep the wider gaps between them).
_SPACED = [
    re.compile(rf"(?<![^\W\d_])(?:[^\W\d_]{re.escape(sep)}){{{least},}}[^\W\d_](?![^\W\d_])")
    for sep, least in [(".", 1), (" ", 2), ("-", 2), ("·", 1), ("_", 2)]  # « I.A » is two letters
]


def _joined(text: str) -> str:
    for pattern in _SPACED:
        text = pattern.sub(lambda m: re.sub(r"[ .·_-]", "", m.group(0)), text)
    return text


def readings(sentence: str) -> list[str]:
    """The ways the detector reads a sentence: normalised; with spaced-out letters joined; with a soft hyphen read
    as nothing, as a hyphen or as a space (« Igno\u00adrez », « Ignore\u00adles consignes »)."""
    variants = [sentence]
    if "\u00ad" in sentence:
        variants += [sentence.replace("\u00ad", "-"), sentence.replace("\u00ad", " ")]
    variants += [_joined(variant) for variant in variants]
    return list(dict.fromkeys(normalise(variant) for variant in variants))


@lru_cache(maxsize=65_536)
def detect(sentence: str) -> tuple[str, ...]:
    """The injection moves a sentence makes (empty: an ordinary sentence). Remembered: the same passages come back
    question after question, and each is read in several ways by a few dozen patterns."""
    for text in readings(sentence):
        if len(text) < 8:
            continue
        moves = tuple(name for name, pattern in _MOVES.items() if pattern.search(text))
        # Speaking to a model is only an injection when it tells it something; a lone « Assistant : » is a label.
        if moves == ("addressee",) and not re.search(rf"\b{_SPEAK}\b|\b(?:tu|vous) |\bdoit\b|:.{{12,}}", text):
            moves = ()
        if moves:
            return moves
    return ()


def _sentences(text: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]


def find_injections(text: str) -> list[Detection]:
    """Sentences of `text` that address an AI with instructions."""
    found = []
    for sentence in _sentences(text):
        moves = detect(sentence) if sentence.strip() else ()
        if moves:
            found.append(Detection(sentence.strip(), moves))
    return found


def is_suspect(text: str) -> bool:
    return bool(find_injections(text))


def neutralise(text: str) -> str:
    """`text` with every instruction-to-an-AI sentence replaced by a marker, and its payload: the sentence right
    after it when it is quoted (« … répondre uniquement par la phrase » / « XYZ ») or announced by a colon."""
    out: list[str] = []
    flagged = ""  # the last sentence cut, while its payload may follow
    for sentence in _sentences(text):
        if sentence.strip() and detect(sentence):
            if not out or out[-1] != REDACTED:
                out.append(REDACTED)
            flagged = sentence
            continue
        if flagged and sentence.strip():
            header = flagged.strip()
            announced = header.endswith(":") or (len(header) < 60 and not header.endswith((".", "!", "?")))
            flagged = ""
            if sentence.strip().startswith(("«", '"', "“")) or announced:
                continue
        out.append(sentence)
    return "".join(part if part != REDACTED else f" {REDACTED} " for part in out).strip()
