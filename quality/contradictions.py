"""Statements that disagree.

- Across documents: the same statement restated with another figure (a memo or a desk guide that still states the
  figure of an older version of a rule, under another title and in another folder). Sentences are paired when their
  words, figures aside, are the same but for one (an index keyed on each sentence's words, one left out at a time:
  near-linear, never all pairs); a wording shared by many documents with many figures is a template (« Le montant de
  l'aide est de … »), not one statement. Two documents that merely speak of similar things are not compared.
- Within a document: similar passages (nearest neighbours in the vector index, plus lexical overlap) that state
  different figures about the same thing, or one allows what the other forbids.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import combinations, product

from quality.facts import (
    Fact,
    Statement,
    conflicting_facts,
    extract_facts,
    opposite_statements,
    restated_with_other_figures,
    statements,
)
from quality.findings import Finding, FindingType, Place, Severity, excerpt
from quality.inputs import CorpusView, DocumentView
from sourcier.french import content_terms, plural

NEIGHBOURS = 6
MIN_COSINE = 0.86
MIN_LEXICAL = 0.2
TEMPLATE_FIGURES = 4  # one wording stated with this many different figures across documents is a template
BOILERPLATE_DOCUMENTS = 20  # … and one stated by more documents than this is boilerplate, whatever its figures


_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-ZÉÈÀ][a-zéèêëàâîïôöûüç]+(?:[\s-][A-ZÉÈÀ][a-zéèêëàâîïôöûüç]+)*)")
_NOT_NAMES = {"Le", "La", "Les", "Un", "Une", "Des", "Il", "Elle", "Ils", "Elles", "Ce", "Cette", "Ces", "Pour", "Dans",
              "En", "Au", "Aux", "Si", "Lorsque", "Article", "Loi", "Décret", "Code"}  # fmt: skip


def _names(sentence: str) -> set[str]:
    return {name for name in _PROPER.findall(sentence) if name not in _NOT_NAMES}


def _name_different_things(first: str, second: str) -> bool:
    """« L'aide de la CAF de l'Ain est de 160 € » and « L'aide de la CAF de l'Ardèche est de 300 € » do not
    disagree: each sentence names something the other does not."""
    a, b = _names(first), _names(second)
    return bool(a - b) and bool(b - a)


# Whom a rule applies to: two sentences about different people state two rules, not one rule twice.
_AUDIENCES = re.compile(
    r"\b(contractuels?|fonctionnaires?|titulaires?|stagiaires?|apprentis?|vacataires?|salariés?|mineurs?|majeurs?|"
    r"étudiants?|retraités?|élus?|agents? publics?|demandeurs? d'emploi|particuliers?|professionnels?|associations?|"
    r"fonction publique (?:territoriale|hospitalière|d'État)|FPT|FPH|FPE)\b",
    re.IGNORECASE,
)
# Records of decisions: minutes, deliberations, orders, annual reports. They record what a body decided at a date;
# one year's tariff and the next are successive decisions, not statements that contradict each other.
_RECORD = re.compile(
    r"compte[\s_-]*rendu|\bcr[\s_-]|proc[eè]s[\s_-]*verbal|\bpv[\s_-]|d[ée]lib[ée]ration|arr[êe]t[ée][\s_-]|"
    r"conseil[\s_-]*municipal|conseil[\s_-]*communautaire|rapport[\s_-]*annuel|\brpqs\b|s[ée]ance",
    re.IGNORECASE,
)


def is_record(path: str, title: str) -> bool:
    """A record of decisions (minutes, deliberation, order, annual report), known by its folder, name or title."""
    return bool(_RECORD.search(f"{path} {title}".replace("/", " ")))


def _audiences(sentence: str) -> set[str]:
    return {match.lower().rstrip("s") for match in _AUDIENCES.findall(sentence)}


def _about_different_people(first: str, second: str) -> bool:
    """« Le contractuel perçoit 90 % … » and « Le fonctionnaire perçoit 100 % … » are two rules."""
    a, b = _audiences(first), _audiences(second)
    return bool(a - b) and bool(b - a)


def candidate_pairs(corpus: CorpusView, batch: int = 256) -> list[tuple[str, str, float]]:
    pairs: dict[tuple[str, str], float] = {}
    ids = corpus.chunk_ids
    for start in range(0, len(ids), batch):
        found = corpus.index.nearest(corpus.vectors[start : start + batch].tolist(), min(NEIGHBOURS + 1, len(ids)))
        for chunk_id, neighbours in zip(ids[start : start + batch], found, strict=True):
            for neighbour in neighbours:
                other, cosine = neighbour.id, float(neighbour.similarity or 0.0)
                if other == chunk_id or other not in corpus.chunks or cosine < MIN_COSINE:
                    continue
                key = (chunk_id, other) if chunk_id < other else (other, chunk_id)
                pairs[key] = max(pairs.get(key, 0.0), cosine)
    return [(a, b, cosine) for (a, b), cosine in pairs.items()]


def analyse_contradictions(
    corpus: CorpusView, related: set[frozenset[str]], progress: Callable[[str], None] = lambda _: None
) -> list[Finding]:
    findings: dict[str, Finding] = {}
    for finding in _within_documents(corpus, progress) + _across_documents(corpus, related, progress):
        findings.setdefault(finding.id, finding)
    return list(findings.values())


def _within_documents(corpus: CorpusView, progress: Callable[[str], None]) -> list[Finding]:
    facts_cache: dict[str, list] = {}
    terms_cache: dict[str, set[str]] = {}

    def facts(chunk_id: str):
        if chunk_id not in facts_cache:
            facts_cache[chunk_id] = extract_facts(corpus.chunks[chunk_id].text)
        return facts_cache[chunk_id]

    def terms(chunk_id: str) -> set[str]:
        if chunk_id not in terms_cache:
            terms_cache[chunk_id] = set(content_terms(corpus.chunks[chunk_id].text))
        return terms_cache[chunk_id]

    candidates = [
        (a, b, cosine) for a, b, cosine in candidate_pairs(corpus) if corpus.chunks[a].doc_id == corpus.chunks[b].doc_id
    ]
    progress(f"{len(candidates)} paires de passages proches à comparer dans un même document")
    findings = []
    for first_id, second_id, cosine in candidates:
        first, second = corpus.chunks[first_id], corpus.chunks[second_id]
        if abs(first.index - second.index) <= 1:
            continue  # overlapping neighbours of one passage
        document = corpus.documents[first.doc_id]
        if is_record(document.path, document.title):
            continue  # successive decisions of a body: a history, not a contradiction
        union = terms(first_id) | terms(second_id)
        if not union or len(terms(first_id) & terms(second_id)) / len(union) < MIN_LEXICAL:
            continue
        disagreements = [
            (a.sentence, b.sentence, f"{a.text} ≠ {b.text}", f"{a.unit}:{a.value:g}/{b.value:g}")
            for a, b in conflicting_facts(facts(first_id), facts(second_id))
            if not _name_different_things(a.sentence, b.sentence)
            and not _about_different_people(a.sentence, b.sentence)
        ]
        disagreements += [
            (a, b, "autorisé/obligatoire ≠ interdit/facultatif", f"polarity:{a[:40]}")
            for a, b in opposite_statements(first.text, second.text)
            if not _about_different_people(a, b)
        ]
        if not disagreements:
            continue
        if first.section and second.section and first.section != second.section:
            # Two sections of one text often describe two cases (fonctionnaire / contractuel): worth a look only.
            where, severity = "entre deux sections du même document", Severity.LOW
        else:
            where, severity = "dans le même document", Severity.MEDIUM
        findings.append(
            _finding(corpus, first_id, second_id, disagreements, where, severity, {"cosine": round(cosine, 3)})
        )
    return findings


def _across_documents(
    corpus: CorpusView, related: set[frozenset[str]], progress: Callable[[str], None]
) -> list[Finding]:
    stated: list[tuple[str, Statement]] = []  # (chunk id, statement)
    keys: dict[frozenset[str], list[int]] = {}
    for chunk_id in corpus.chunk_ids:
        for statement in statements(corpus.chunks[chunk_id].text):
            position = len(stated)
            stated.append((chunk_id, statement))
            # Two wordings that differ by at most one word share one of these keys.
            for key in [statement.terms, *(statement.terms - {term} for term in statement.terms)]:
                keys.setdefault(key, []).append(position)
    progress(f"{len(stated)} affirmations chiffrées comparées entre documents")

    pairs: dict[tuple[int, int], None] = {}
    for positions in keys.values():
        by_figures: dict[tuple, list[int]] = {}
        for i in positions:
            by_figures.setdefault(tuple((f.unit, f.value) for f in stated[i][1].facts), []).append(i)
        if len(by_figures) < 2:
            continue  # every document states the same figures
        documents = {corpus.chunks[stated[i][0]].doc_id for i in positions}
        if len(documents) > BOILERPLATE_DOCUMENTS or (
            len(documents) >= TEMPLATE_FIGURES and len(by_figures) >= TEMPLATE_FIGURES
        ):
            continue  # a template filled in by many documents (each aid its amount), or boilerplate: not one rule
        # Only statements with different figures are compared: what many documents say alike costs nothing.
        for first_group, second_group in combinations(by_figures.values(), 2):
            for i, j in product(first_group, second_group):
                pairs[(min(i, j), max(i, j))] = None

    findings = []
    stale: list[_Link] = []  # cross-document restatements with other figures, grouped by figure below
    terms_of: dict[str, frozenset[str]] = {}

    def document_terms(document: DocumentView) -> frozenset[str]:
        if document.doc_id not in terms_of:
            terms_of[document.doc_id] = frozenset(content_terms(document.title + " " + document.text))
        return terms_of[document.doc_id]

    for i, j in pairs:
        (first_id, first), (second_id, second) = stated[i], stated[j]
        doc_a = corpus.documents[corpus.chunks[first_id].doc_id]
        doc_b = corpus.documents[corpus.chunks[second_id].doc_id]
        if doc_a.doc_id == doc_b.doc_id or frozenset((doc_a.doc_id, doc_b.doc_id)) in related:
            continue  # one document, or a duplicate or a newer version: reported as such, with its figures
        records = is_record(doc_a.path, doc_a.title), is_record(doc_b.path, doc_b.title)
        if all(records):
            continue  # successive decisions of a body: a history, not a contradiction
        if _about_different_people(f"{doc_a.title} {first.sentence}", f"{doc_b.title} {second.sentence}"):
            continue
        if _titles_name_different_subjects(doc_a, doc_b, document_terms):
            continue
        differing = restated_with_other_figures(first, second)
        if not differing:
            continue
        disagreements = [(a.sentence, b.sentence, f"{a.text} ≠ {b.text}", _key(a, b)) for a, b in differing]
        if any(records):
            # A decision against a rule: the decision may apply the rule to a case, or the rule may be outdated.
            where = "entre un document de référence et une décision"
            findings.append(_finding(corpus, first_id, second_id, disagreements, where, Severity.LOW, {}))
        else:
            stale.append(_Link(first_id, second_id, disagreements, *differing[0]))
    return findings + _one_per_stale_figure(corpus, stale)


@dataclass(frozen=True)
class _Link:
    first_id: str
    second_id: str
    disagreements: list[tuple[str, str, str, str]]
    first_fact: Fact  # the first figure that differs, as the first passage states it
    second_fact: Fact


def _one_per_stale_figure(corpus: CorpusView, links: list[_Link]) -> list[Finding]:
    """One rule's figure restated in several documents, some with the old figure and some with the new one, is one
    finding (« 537 € est l'ancienne valeur ; elle figure encore dans 4 documents »), not one per pair of documents:
    links that swap the same two figures of one unit are grouped, and the figure of the most recent documents (by
    their dates) is taken as the current one. Two documents alone stay a pair."""
    groups: dict[tuple[str, frozenset[float]], list[_Link]] = {}
    for link in links:
        key = (link.first_fact.unit, frozenset((link.first_fact.value, link.second_fact.value)))
        groups.setdefault(key, []).append(link)
    findings = []
    for group in groups.values():
        stating: dict[float, dict[str, tuple[str, str]]] = {}  # figure → doc_id → (chunk id, sentence)
        written: dict[float, str] = {}
        for link in group:
            for chunk_id, fact in ((link.first_id, link.first_fact), (link.second_id, link.second_fact)):
                stating.setdefault(fact.value, {}).setdefault(corpus.chunks[chunk_id].doc_id, (chunk_id, fact.sentence))
                written.setdefault(fact.value, fact.text)
        if sum(len(documents) for documents in stating.values()) < 3:
            findings += [
                _finding(corpus, k.first_id, k.second_id, k.disagreements, "entre deux documents", Severity.HIGH, {})
                for k in group
            ]
            continue
        findings.append(_stale_figure(corpus, stating, written))
    return findings


def _stale_figure(
    corpus: CorpusView, stating: dict[float, dict[str, tuple[str, str]]], written: dict[float, str]
) -> Finding:
    def newest(value: float) -> date:
        dates = [corpus.documents[doc_id].doc_date for doc_id in stating[value]]
        return max((d for d in dates if d), default=date.min)

    (old, new) = sorted(stating, key=lambda value: (newest(value), len(stating[value])))
    dated = date.min < newest(old) < newest(new)  # a document without a date is not thereby older
    places, evidence, chunks = [], [], []
    for value in (new, old):
        by_path = sorted(stating[value].items(), key=lambda item: corpus.documents[item[0]].path)
        for doc_id, (chunk_id, sentence) in by_path:
            document, chunk = corpus.documents[doc_id], corpus.chunks[chunk_id]
            places.append(Place(document.path, document.title, document.service, chunk.page, chunk.section))
            evidence.append(f"{document.title or document.path} : {excerpt(sentence, width=280)}")
            chunks.append(chunk_id)
    count_old, count_new = len(stating[old]), len(stating[new])
    if dated:
        explanation = (
            f"« {written[old]} » semble être l'ancienne valeur : {plural(count_old, 'document')} "
            + ("l'indiquent" if count_old > 1 else "l'indique")
            + " encore, alors que "
            f"{plural(count_new, 'document')} plus {'récents indiquent' if count_new > 1 else 'récent indique'} "
            f"« {written[new]} »."
        )
    else:
        explanation = (
            f"Une même règle est donnée avec deux valeurs : « {written[new]} » dans {plural(count_new, 'document')}, "
            f"« {written[old]} » dans {plural(count_old, 'document')} ; aucune date ne dit laquelle est en vigueur."
        )
    return Finding(
        FindingType.CONTRADICTION,
        Severity.HIGH,
        places,
        evidence,
        explanation,
        "Vérifier la valeur en vigueur, puis corriger ou retirer chaque document qui donne l'autre.",
        key=f"figure:{old:g}/{new:g}",
        details={
            "chunks": chunks,
            "current": written[new] if dated else None,
            "old": written[old] if dated else None,
            "stale_paths": sorted(corpus.documents[d].path for d in stating[old]) if dated else [],
        },
    )


def _titles_name_different_subjects(
    first: DocumentView, second: DocumentView, document_terms: Callable[[DocumentView], frozenset[str]]
) -> bool:
    """Sibling documents: titles on one theme, each naming a subject the other document never mentions (« Carte
    grise : justifier de son domicile » / « Liste électorale : quel justificatif de domicile ? »). The same sentence
    with another figure states each subject's own rule (« facture de moins de 6 mois » / « de moins de 3 mois »).
    A memo or a desk guide copying a rule has a title of its own, not a sibling's."""
    title_a, title_b = set(content_terms(first.title)), set(content_terms(second.title))
    if not title_a & title_b:
        return False
    own_a = title_a - title_b - document_terms(second)
    own_b = title_b - title_a - document_terms(first)
    return bool(own_a) and bool(own_b)


def _key(a: Fact, b: Fact) -> str:
    return f"{a.unit}:{a.value:g}/{b.value:g}"


def _finding(
    corpus: CorpusView,
    first_id: str,
    second_id: str,
    disagreements: list[tuple[str, str, str, str]],
    where: str,
    severity: Severity,
    details: dict,
) -> Finding:
    first, second = corpus.chunks[first_id], corpus.chunks[second_id]
    doc_a, doc_b = corpus.documents[first.doc_id], corpus.documents[second.doc_id]
    sentence_a, sentence_b, what, key = disagreements[0]
    others = len(disagreements) - 1
    return Finding(
        FindingType.CONTRADICTION,
        severity,
        [
            Place(doc_a.path, doc_a.title, doc_a.service, first.page, first.section),
            Place(doc_b.path, doc_b.title, doc_b.service, second.page, second.section),
        ],
        [excerpt(sentence_a, width=320), excerpt(sentence_b, width=320)],
        f"Affirmations divergentes {where} : {what}"
        + (f" (et {plural(others, 'autre écart', 'autres écarts')})" if others else "")
        + ".",
        "Vérifier laquelle est en vigueur, corriger ou retirer l'autre, ou préciser dans quel cas chacune s'applique.",
        key=key,
        details={"chunks": [first_id, second_id], "all": [d[2] for d in disagreements[:5]], **details},
    )
