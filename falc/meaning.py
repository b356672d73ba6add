"""What a FALC draft must keep besides its facts: the conditions of the source and their logic — and that it reads as
sentences and says nothing the source does not.

The fact check (`falc.facts`) counts figures, dates and addresses; a condition is not a figure. « Être inscrit dans un
CFA sur le territoire des Hauts-de-France » rewritten « Vous devez être inscrit dans un CFA » keeps every fact and
changes who is eligible. This module is the rule-based floor of that check, with no model:

- **conditions**: the clauses of the source opened by a qualifier — a hypothesis or an exception (« si », « sauf »,
  « sous réserve que », « à condition de », « uniquement »), a place (« sur le territoire de », « hors région »), an
  order in time (« avant de », « après », « jusqu'à »), a bound (« au moins », « moins de ») — each with its content
  words. The draft keeps a condition when one of its sentences holds most of those words, with the negation and the
  bound's direction the clause has (« moins de 3 mois » is not « 3 mois »).
- **logic**: two conditions the source joins (« si A et que B ») must stay joined: the draft that makes each its own
  « si … » sentence turns two requirements into two ways in.
- **fragments**: a draft sentence with no verb (« Un établissement d'enseignement supérieur, un laboratoire. »), unless
  it is a list item under a line ending with « : », a « label : value » line or a short heading question (« Pour
  qui ? »).
- **additions**: a draft sentence most of whose content words are in neither the source nor its titles (« Le
  dispositif répond à leurs besoins. »), and a sentence that only repeats an earlier one. Explanations of a word (« un
  justificatif, c'est un papier qui prouve … ») are what FALC asks for and are not additions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from falc.facts import digits_for_words, without_addresses, write_dates_out
from falc.rules import sentences_of
from sourcier.french import content_terms, parser


class ConditionKind(StrEnum):
    REQUIREMENT = "condition à remplir"  # an item of a « Conditions » list: « Ne pas avoir obtenu l'aide … »
    WHO = "personnes concernées"  # destiné aux, réservé aux, ouvert aux, les personnes dont
    CASE = "cas ou exception"  # si, sauf, sous réserve, à condition, uniquement, lorsque, en cas de
    PLACE = "lieu"  # sur le territoire de, hors région, domicilié à
    TIME = "moment"  # avant, après, jusqu'à, au plus tard, à partir de
    AT_MOST = "limite haute"  # moins de, au plus, au maximum, jusqu'à
    AT_LEAST = "limite basse"  # au moins, plus de, au minimum


_MARKERS: dict[ConditionKind, str] = {
    ConditionKind.WHO: (
        r"(?:destin|r[ée]serv)[ée]e?s? (?:[àa]|aux)|ouverte?s? (?:[àa]|aux)|(?:personnes?|jeunes|enfants|familles|"
        r"[ée]tudiant\w*|agents?|habitants?|salari[ée]\w*|m[ée]nages?|foyers?) (?:qui|[âa]g[ée]e?s? de)|dont"
    ),
    ConditionKind.CASE: (
        r"sauf|sous r[ée]serve|[àa] condition|[àa] l['’]exception|except[ée]|hormis|[àa] moins|uniquement|seulement|"
        r"exclusivement|si|s['’]ils?|lorsque|lorsqu['’]|en cas d['’e]|dans le cas o[ùu]|d[èe]s lors que|tant que|"
        r"en contrepartie d['’eu]s?|dans (?:les|des) conditions"
    ),
    ConditionKind.PLACE: (
        r"(?:sur|du|de|dans) (?:le |l['’])?territoire|"
        r"hors (?:de la |du |de l['’])?(?:r[ée]gion|d[ée]partement|commune)|"
        r"domicili[ée]e?s?|r[ée]sidant|r[ée]sider|habitant|habiter"
    ),
    ConditionKind.TIME: r"avant|apr[èe]s|au plus tard|[àa] partir d['’eu]s?|d[èe]s (?:le|la|l['’]|que|r[ée]ception)",
    ConditionKind.AT_MOST: (
        r"moins d['’e]|au plus|au maximum|maximum|jusqu['’][àa]u?x?|pas plus d['’e]|inf[ée]rieure?s? [àa]"
    ),
    ConditionKind.AT_LEAST: r"au moins|plus d['’e]|au minimum|minimum|sup[ée]rieure?s? [àa]|ou plus",
}
# A second condition joined to the one before: « si A et que B », « sous réserve que A et que B ».
_JOINED = r"et qu['’e]|et si|et [àa] condition"
_MARKER = re.compile(
    "|".join(f"(?P<{kind.name}>(?<![\\w'’])(?:{pattern})(?![\\w]))" for kind, pattern in _MARKERS.items())
    + f"|(?P<JOINED>(?<![\\w'’])(?:{_JOINED})(?![\\w]))",
    re.IGNORECASE,
)
# What keeps a case a case in the draft: its marker, a question (« Vous avez moins de 18 ans ? »), an obligation.
_HYPOTHETICAL = re.compile(
    rf"(?<![\w'’])(?:{_MARKERS[ConditionKind.CASE]})(?!\w)|\?|\b(?:dev(?:ez|oir)|doi(?:t|vent)|faut|condition)\b",
    re.IGNORECASE,
)
_OUTSIDE = re.compile(r"\b(?:hors|en dehors|à l['’]extérieur)\b(?:\s+[\w'’-]+){0,4}", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=\d)[\s.](?=\d{3}\b)")
_CLAUSE_END = re.compile(r"[,;:.()!?\n«»]")
MAX_CLAUSE_WORDS = 12
_NEGATION = re.compile(r"(?<![\w])(?:ne|n['’])\s|(?<![\w])(?:pas|jamais|aucune?|rien|sans|non|ni)(?![\w])", re.I)
# Words a bound may be written with in the draft, by direction.
_BOUND_WORDS = {
    ConditionKind.AT_MOST: re.compile(
        r"moins|au plus|maximum|jusqu|pas plus|inf[ée]rieur|pas d[ée]passer|ne d[ée]passe", re.IGNORECASE
    ),
    ConditionKind.AT_LEAST: re.compile(r"au moins|plus de|minimum|sup[ée]rieur|ou plus|d[ée]passe|plus ", re.I),
}
_EXPLANATION = re.compile(
    r"c['’]est|veut dire|signifie|par exemple|autrement dit|on appelle|s['’]appelle|est un |est une ", re.IGNORECASE
)
_FIELD = re.compile(r"^\s*[A-Za-zÀ-ÿ’' ]{2,40}\s?:\s*\S")


@dataclass(frozen=True)
class Condition:
    kind: ConditionKind
    clause: str  # as the source writes it, shown to the owner
    terms: frozenset[str]  # its content words, stemmed
    negated: bool  # « que vous ne perceviez pas d'aide »: lost, the negation reverses the rule
    joined_to: str = ""  # the clause before it that it is joined to by « et que »: both must hold
    # A place's condition is about what comes before it (« un organisme de formation sur le territoire des
    # Hauts-de-France »): the same place said of something else (the employer) does not keep it.
    anchor: frozenset[str] = frozenset()
    alternative: bool = False  # « A ou B »: one of them suffices; `joined_to` is A


@dataclass
class MeaningCheck:
    lost: list[Condition] = field(default_factory=list)  # in the source, not in the draft
    split: list[Condition] = field(default_factory=list)  # joined in the source, separate ways in in the draft
    fragments: list[str] = field(default_factory=list)  # draft sentences with no verb
    added: list[str] = field(default_factory=list)  # draft sentences the source does not say

    @property
    def ok(self) -> bool:
        """What blocks validation: a condition lost or its logic changed. Fragments and additions are shown (and
        additions are taken out of the model's drafts before the owner sees them)."""
        return not self.lost and not self.split


def conditions(text: str) -> list[Condition]:
    """The conditions `text` states, in order."""
    found: list[Condition] = []
    for sentence in sentences_of(without_addresses(text)):
        sentence = _normal(sentence)
        previous: Condition | None = None
        markers = list(_MARKER.finditer(sentence))
        for index, match in enumerate(markers):
            end = markers[index + 1].start() if index + 1 < len(markers) else len(sentence)
            boundary = _CLAUSE_END.search(sentence, match.end(), end)
            clause = sentence[match.start() : boundary.start() if boundary else end].strip()
            clause = " ".join(clause.split()[: MAX_CLAUSE_WORDS + len(match.group(0).split())])
            joined = match.lastgroup == "JOINED"
            if joined and previous is None:
                continue
            kind = previous.kind if previous and joined else ConditionKind[match.lastgroup or ""]
            body = clause[len(match.group(0)) :].strip()
            if joined:  # shown as « vous êtes employé … », not « et que vous êtes employé … »
                clause = body
            # Words read in their sentence: alone, « fiscalement en Martinique » is not lemmatised as it is in the
            # draft's sentence.
            terms = frozenset(_span_terms(sentence, match.end(), match.start() + len(clause))) - _stock()
            if not terms and kind in _BOUND_WORDS:  # « 1 500 € au maximum »: the bound is on what comes before
                terms = frozenset(_span_terms(sentence, 0, match.start())[-2:])
            if not terms:
                continue  # « si besoin », « avant tout »: nothing to keep
            before = frozenset(_span_terms(sentence, 0, match.start())[-3:])
            anchor = before if kind is ConditionKind.PLACE else frozenset()
            condition = Condition(
                kind,
                clause,
                terms,
                bool(_NEGATION.search(clause)),
                previous.clause if previous and joined else "",
                anchor - terms,
            )
            found.append(condition)
            previous = condition if kind is ConditionKind.CASE or joined else None
    return _distinct(found)


_REQUIREMENTS_SECTION = re.compile(r"condition|pour qui|qui (?:est|peut)|b[ée]n[ée]ficiaire|crit[èe]re|[ée]ligib", re.I)
_NEGATED_ITEM = re.compile(r"^\s*(?:[-•*]\s*)?(?:ne pas|n['’]avoir pas|ne jamais|ne plus|sans)\b", re.IGNORECASE)


def requirements(source: str, context: str = "") -> list[Condition]:
    """Under a section on who may have the aid (« Conditions », « Pour qui ? »), each item of a list is a condition
    to meet, whether or not a word announces it — « Ne pas avoir obtenu l'aide à la mobilité » rewritten « Vous avez
    besoin d'aide à la mobilité ? » reverses it."""
    section = context.strip().splitlines()[-1] if context.strip() else ""
    if not _REQUIREMENTS_SECTION.search(section):
        return []
    found = []
    for line in source.splitlines():
        if not re.match(r"^\s*[-•*]\s+\S", line):
            continue
        item = _normal(re.sub(r"^\s*[-•*]\s+", "", line).strip())
        terms = _terms(item) - _stock()
        if len(terms) >= 2:
            negated = bool(_NEGATED_ITEM.match(item))
            found.append(Condition(ConditionKind.REQUIREMENT, item.rstrip(" .;"), terms, negated))
    return found


def check(source: str, draft: str, context: str = "") -> MeaningCheck:
    """The draft against its source; `context` (the document's title and section) is where a draft may take words
    the passage itself does not have."""
    result = MeaningCheck()
    sentences = sentences_of(draft)
    for condition in conditions(source) + requirements(source, context):
        holder = _holder(condition, sentences)
        if holder is None:
            result.lost.append(condition)
        elif condition.joined_to and _ways_in(condition, sentences, holder):
            result.split.append(condition)
    result.split += _alternatives_made_cumulative(source, sentences)
    result.fragments = fragments(draft, source)
    result.added = additions(source, draft, context)
    return result


def _holder(condition: Condition, sentences: list[str]) -> int | None:
    """The draft sentence that states the condition: most of its words, its negation, its bound's direction. The
    sentence before counts with it: FALC asks the question first (« Vous avez moins de 18 ans ? ») and answers
    after."""
    need = math.ceil(0.6 * len(condition.terms))
    for index, sentence in enumerate(sentences):
        if condition.kind is ConditionKind.PLACE:
            window = sentence
            if not _OUTSIDE.match(condition.clause):  # « hors région Hauts-de-France » does not state « sur le
                window = _OUTSIDE.sub(" ", window)  # territoire des Hauts-de-France »
            if condition.anchor and not condition.anchor & _terms(window):
                continue
        else:
            window = (sentences[index - 1] + " " if index else "") + sentence
        if len(condition.terms & _terms(window)) < need:
            continue
        if condition.negated and not _NEGATION.search(window):
            continue
        bound = _BOUND_WORDS.get(condition.kind)
        if bound and not bound.search(window):
            continue
        if condition.kind is ConditionKind.CASE and not condition.joined_to and not _HYPOTHETICAL.search(window):
            continue  # « si votre traitement a moins augmenté que les prix » made a statement: « Il a moins augmenté. »
        return index
    return None


_OR = re.compile(r"\s*[,;]?\s+ou\s+(?:bien\s+)?", re.IGNORECASE)
# What tells the reader one case suffices when the cases are on separate lines: « Vous êtes dans un de ces cas : »,
# « au choix », « soit … soit … », a line opening with « ou ».
_EITHER = re.compile(
    r"\b(?:soit|au choix|au moins une?|une? seule?)\b|\b(?:l['’]une?|une?) (?:de|des|d['’]entre) ", re.IGNORECASE
)
_OPENS_WITH_OR = re.compile(r"^\s*(?:ou|soit)\b", re.IGNORECASE)
_ENDS_WITH_OR = re.compile(r"\bou\s*[.:;]?\s*$", re.IGNORECASE)
_BOUNDARY = re.compile(r"[,;:.]")
_DOUBLET = re.compile(r"\b(\w{3,})\s+(?:ou|et)\s+\1\w{0,3}\b", re.IGNORECASE)  # « inscrit ou inscrite »


def alternatives(text: str) -> list[list[tuple[str, frozenset[str]]]]:
    """The groups of alternatives of `text`, one group a sentence: « être suivi par la Mission locale, ou être
    bénéficiaire du RSA, ou … ». Each alternative needs two content words of its own: « inscrit ou inscrite » is
    one word written for both genders, not two cases."""
    groups = []
    for sentence in sentences_of(without_addresses(text)):
        sentence = _DOUBLET.sub(r"\1", _normal(re.sub(r"\([^)]*\)", " ", sentence)))
        pieces = _OR.split(sentence)
        if len(pieces) < 2:
            continue
        pieces[0] = _BOUNDARY.split(pieces[0])[-1]
        pieces[-1] = _BOUNDARY.split(pieces[-1])[0]
        # An alternative ends where another condition begins: in « un CFA ou un organisme de formation sur le
        # territoire de la région », the place is said of both.
        pieces = [
            piece[: next((m.start() for m in _MARKER.finditer(piece) if m.start() > 0), len(piece))] for piece in pieces
        ]
        group = [(piece.strip(), terms) for piece in pieces if len(terms := _terms(piece) - _stock()) >= 2]
        if len(group) >= 2:
            groups.append(group)
    return groups


def _alternatives_made_cumulative(source: str, sentences: list[str]) -> list[Condition]:
    """Alternatives of the source stated in separate draft sentences with nothing saying one suffices: the reader
    believes they must meet them all."""
    found = []
    for group in alternatives(source):
        holders = []
        for piece, terms in group:
            need = math.ceil(0.6 * len(terms))
            holder = next((i for i, s in enumerate(sentences) if len(terms & _terms(s)) >= need), None)
            if holder is not None:
                holders.append((holder, piece, terms))
        distinct = sorted({holder for holder, _, _ in holders})
        if len(distinct) < 2:
            continue
        intro = [sentences[distinct[0]]] + ([sentences[distinct[0] - 1]] if distinct[0] else [])
        said = (
            any(_EITHER.search(sentence) for sentence in intro)
            or all(_OPENS_WITH_OR.match(sentences[i]) for i in distinct[1:])
            or all(_ENDS_WITH_OR.search(sentences[i]) for i in distinct[:-1])
        )
        if not said:
            (_, first, _), (_, second, terms) = holders[0], holders[1]
            found.append(Condition(ConditionKind.CASE, second, terms, False, first, alternative=True))
    return found


def stating(condition: Condition, sentences: list[str]) -> str | None:
    """The sentence of the source (as the writer prepared it: numbers in digits, addresses as tags) that states the
    condition: the one that shares most of its words."""
    best = max(sentences, key=lambda s: len(condition.terms & _terms(s)), default=None)
    return best if best is not None and condition.terms & _terms(best) else None


def _ways_in(condition: Condition, sentences: list[str], holder: int) -> bool:
    """The draft states the joined condition in a sentence of its own opened by « si » (or as a question), apart
    from the one it is joined to, with nothing saying both must hold."""
    first = conditions(condition.joined_to)
    other = _holder(first[0], sentences) if first else None
    if other is None or other == holder:
        return False
    alone = [sentences[holder], sentences[other]]
    opens_a_case = all(_OPENS_A_CASE.match(s) or s.rstrip().endswith("?") for s in alone)
    return opens_a_case and not any(_BOTH.search(s) for s in alone)


_BOTH = re.compile(r"\b(?:et|aussi|en plus|les 2|les deux|toutes? (?:ces|les)|ces \d conditions)\b", re.I)
_OPENS_A_CASE = re.compile(r"^\s*(?:si|s['’]il)\b", re.I)


def fragments(draft: str, source: str = "") -> list[str]:
    """Draft lines that are not sentences: no verb, and neither items of a list opened by a line ending with « : »,
    « label : value » lines, short heading questions, nor lines the source itself writes so (a list of who is
    concerned kept as a list)."""
    found = []
    written = {_line(line) for line in source.splitlines()}
    in_list = False
    for line in (line.strip() for line in draft.splitlines()):
        if not line:
            continue
        if in_list or line.endswith(":"):
            in_list = True  # a list's opening line and its items
            continue
        for sentence in sentences_of(line):
            if _FIELD.match(sentence) or (sentence.endswith("?") and len(sentence.split()) <= 5):
                continue
            if _line(sentence) in written:
                continue
            if not _has_verb(sentence):
                found.append(sentence)
    return found


def _line(text: str) -> str:
    return " ".join(text.lower().split()).strip("-•*;,. ")


def _has_verb(sentence: str) -> bool:
    """The parser's verbs, or a word of French's verb forms that no determiner precedes: the small parser reads
    imperatives as names (« Vérifiez vos conditions ») and « répond » as a noun."""
    parsed = parser(lemmas=True)(without_addresses(sentence))
    for token in parsed:
        if token.pos_ in {"VERB", "AUX"} and token.morph.get("VerbForm") != ["Part"]:
            return True
        before = parsed[token.i - 1].lower_ if token.i else ""
        participle = token.lower_.endswith("ant")  # « Elle allant de 15 € à 60 € »: no finite verb
        if _is_verb_form(token.lower_) and before not in _DETERMINERS and not token.is_stop and not participle:
            return True
    return False


_DETERMINERS = frozenset(
    re.findall(
        r"\S+",
        "le la les l' l’ un une des du de d' d’ au aux ce cet cette ces mon ma mes ton ta tes son sa ses notre votre "
        "nos vos leur leurs quel quelle chaque tout toute tous toutes",
    )
)


@lru_cache(maxsize=1)
def _verb_lexicon() -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...]]:
    """The parser's own verb lexicon: irregular forms (~114,000), infinitives, and the endings of regular ones."""
    lookups = parser(lemmas=True).get_pipe("lemmatizer").lookups
    irregular = frozenset(lookups.get_table("lemma_exc")["verb"])
    infinitives = frozenset(lookups.get_table("lemma_index")["verb"])
    # Without the present's « -e » (« montre » → « montrer »): it would make « aide », « demande » verbs too.
    endings = tuple((old, new) for old, new in lookups.get_table("lemma_rules")["verb"] if old)
    return irregular, infinitives, endings


@lru_cache(maxsize=20_000)
def _is_verb_form(word: str) -> bool:
    """« montre », « vérifiez », « coller »: a form of a French verb the lexicon knows, regular or not."""
    irregular, infinitives, endings = _verb_lexicon()
    if word in irregular or word in infinitives:
        return True
    return any(word.endswith(old) and word[: -len(old)] + new in infinitives for old, new in endings)


def additions(source: str, draft: str, context: str = "") -> list[str]:
    """Draft sentences that say what neither the source nor its titles say, and sentences that only repeat an
    earlier one."""
    known = _terms(source) | _terms(context) | _stock()
    found, said = [], []
    for sentence in sentences_of(draft):
        terms = frozenset(t for t in _terms(sentence) if not t[0].isdigit())  # numbers: the fact check's
        if not terms or _EXPLANATION.search(sentence):
            said.append(terms)
            continue
        new = terms - known
        if len(new) >= 2 and len(new) >= 0.6 * len(terms - _stock()):
            found.append(sentence)
        elif len(terms) >= 4 and terms <= frozenset().union(*said):
            found.append(sentence)  # the same thing said again, by one earlier sentence or by several
        said.append(terms)
    return found


def without(draft: str, sentences: list[str]) -> str:
    """`draft` with `sentences` taken out, line by line."""
    kept = []
    for line in draft.splitlines():
        remaining = [s for s in sentences_of(line) if s not in sentences]
        if remaining:
            kept.append(line if len(remaining) == len(sentences_of(line)) else " ".join(remaining))
    return "\n".join(kept)


def describe(check: MeaningCheck) -> str:
    """What the retry tells the model, in French."""
    lines = [f"Tu as oublié la condition « {c.clause} ». Garde-la dans une phrase courte." for c in check.lost]
    lines += [
        f"« {c.joined_to} » et « {c.clause} » doivent être vrais en même temps. Écris : « Vous devez remplir ces 2 "
        "conditions : » puis une condition par ligne."
        for c in check.split
        if not c.alternative
    ]
    lines += [
        f"« {c.joined_to} » ou « {c.clause} » : une seule de ces conditions suffit. Écris : « Vous devez être dans un "
        "de ces cas : » puis un cas par ligne."
        for c in check.split
        if c.alternative
    ]
    return "\n".join(lines)


def for_owner(condition: Condition) -> str:
    """A lost or changed condition as the owner reads it."""
    if condition.alternative:
        return (
            f"Conditions cumulées : « {condition.joined_to} » ou « {condition.clause} » — une seule suffit, le "
            "brouillon les demande toutes."
        )
    if condition.joined_to:
        return (
            f"Conditions séparées : « {condition.joined_to} » et « {condition.clause} » doivent être remplies toutes "
            "les deux ; le brouillon en fait deux cas différents."
        )
    return f"Condition perdue ({condition.kind}) : « {condition.clause} »"


def _normal(text: str) -> str:
    """« 1 500 », « deux mois », « 01/09/2024 » as the drafts write them: « 1500 », « 2 mois », « 1er septembre
    2024 »."""
    return _THOUSANDS.sub("", digits_for_words(write_dates_out(text)))


@lru_cache(maxsize=4096)
def _parsed(text: str):
    return parser(lemmas=True)(text)


@lru_cache(maxsize=4096)
def _term_list(text: str) -> tuple[str, ...]:
    """Content words by their dictionary form, stemmed, in order: « perceviez » and « percevoir », « inscrite » and
    « inscrits » meet."""
    return tuple(content_terms(" ".join(token.lemma_ for token in _parsed(_normal(text)))))


def _span_terms(sentence: str, start: int, end: int) -> tuple[str, ...]:
    """The content words of `sentence[start:end]` in order, lemmatised within the whole sentence."""
    lemmas = [token.lemma_ for token in _parsed(sentence) if start <= token.idx < end]
    return tuple(content_terms(" ".join(lemmas)))


def _terms(text: str) -> frozenset[str]:
    return frozenset(_term_list(text))


@lru_cache(maxsize=1)
def _stock() -> frozenset[str]:
    """What a FALC draft says of itself without the source saying it: speaking to the reader, the plain verbs of a
    procedure. A sentence is an addition when most of its other words are new."""
    return _terms(
        "vous votre vos pouvez devez peut doit faut avoir être faire aller donner demander demande recevoir envoyer "
        "payer aide aider important attention information personne papier document dossier question réponse "
        "répondre écrire remplir appeler lire garder savoir voir oui non condition conditions règle"
    )


def _distinct(found: list[Condition]) -> list[Condition]:
    seen, kept = set(), []
    for condition in found:
        key = (condition.kind, condition.terms, condition.anchor)
        if key not in seen:
            seen.add(key)
            kept.append(condition)
    return kept
