"""Duplicates and successive versions, found with MinHash + LSH over character shingles of the normalised text.

Character shingles of the text without spaces or punctuation make the signature blind to format: the same minutes as
PDF and DOCX, or an Etalab guide whose PDF lost its spaces, hash alike. LSH gives candidate pairs in near-linear time.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from datasketch import MinHash, MinHashLSH

from quality.facts import conflicting_facts, extract_facts
from quality.findings import Finding, FindingType, Place, Severity, excerpt
from quality.inputs import DocumentView
from sourcier.french import fold
from sourcier.hashing import sha256_bytes

EMPTY_FILE_HASH = sha256_bytes(b"")

SHINGLE = 9
PERMUTATIONS = 128
CANDIDATE_THRESHOLD = 0.5  # LSH band setting: pairs above ~0.5 estimated Jaccard become candidates
NEAR_DUPLICATE = 0.85
PASSAGE_THRESHOLD = 0.3
BOILERPLATE = 20
MIN_VERSION_SIMILARITY = 0.25  # with the same title and folder: rewritten versions still share a quarter of shingles
_DATES = re.compile(r"\b\d{1,4}[\s/.\-_]\d{1,2}[\s/.\-_]\d{2,4}\b|\b(?:19|20)\d{2}\b|\bv\d+\b|\bversion\s*\d+\b")


def normalised(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _hash32(data: bytes) -> int:
    # crc32 is C-fast (sha1, datasketch's default, dominated the report's time) and, unlike Python's salted hash(),
    # the same in every process: a borderline pair must not come and go between two runs.
    return zlib.crc32(data)


def signature(text: str, permutations: int = PERMUTATIONS) -> MinHash:
    compact = normalised(text)
    shingles = {compact[i : i + SHINGLE] for i in range(max(1, len(compact) - SHINGLE + 1))}
    minhash = MinHash(num_perm=permutations, hashfunc=_hash32)
    minhash.update_batch([s.encode() for s in shingles])
    return minhash


_REFERENCE = re.compile(r"\b[a-z]{1,3}\d{2,}(?:-\d+)*\b")


def _folder(document: DocumentView) -> str:
    return document.path.rpartition("/")[0]


def title_key(title: str) -> str:
    return re.sub(r"\s+", " ", _DATES.sub(" ", fold(title))).strip()


@dataclass
class Pair:
    first: DocumentView
    second: DocumentView
    similarity: float
    exact: bool


class Signatures(dict):
    """Each document's MinHash, computed once per analysis."""

    def of(self, document: DocumentView) -> MinHash:
        if document.doc_id not in self:
            self[document.doc_id] = signature(document.text)
        return self[document.doc_id]


def similar_pairs(documents: list[DocumentView], cache: Signatures | None = None) -> list[Pair]:
    cache = Signatures() if cache is None else cache
    by_doc = {d.doc_id: d for d in documents}
    texts = {d.doc_id: d.text for d in documents if d.chunks}
    hashes = {doc_id: hashlib.sha256(normalised(text).encode()).hexdigest() for doc_id, text in texts.items()}
    signatures = {doc_id: cache.of(by_doc[doc_id]) for doc_id in texts}
    lsh = MinHashLSH(threshold=CANDIDATE_THRESHOLD, num_perm=PERMUTATIONS)
    for doc_id, minhash in signatures.items():
        lsh.insert(doc_id, minhash)
    by_id = {d.doc_id: d for d in documents}
    pairs, seen = [], set()
    for doc_id, minhash in signatures.items():
        for other in lsh.query(minhash):
            key = tuple(sorted((doc_id, other)))
            if other == doc_id or key in seen:
                continue
            seen.add(key)
            similarity = float(minhash.jaccard(signatures[other]))
            exact = hashes[doc_id] == hashes[other]
            if exact or similarity >= CANDIDATE_THRESHOLD:
                pairs.append(Pair(by_id[key[0]], by_id[key[1]], 1.0 if exact else similarity, exact))
    return pairs


def _canonical(documents: list[DocumentView]) -> DocumentView:
    """The copy to keep: the most recent, then an editable format over PDF, then the longest text."""
    editable = {"docx": 2, "odt": 2, "md": 1, "html": 1}
    return max(
        documents,
        key=lambda d: (d.doc_date.toordinal() if d.doc_date else 0, editable.get(d.format, 0), len(d.text)),
    )


def _place(document: DocumentView) -> Place:
    return Place(document.path, document.title, document.service)


def _figure_changes(older: DocumentView, newer: DocumentView, limit: int = 6) -> list[dict]:
    """Figures that changed between two versions: replaced ones first, then added and removed ones."""
    old_facts, new_facts = extract_facts(older.text), extract_facts(newer.text)
    changes = [
        {"old": old.text, "new": new.text, "old_sentence": old.sentence, "new_sentence": new.sentence}
        for old, new in conflicting_facts(old_facts, new_facts)
    ]  # replaced figures, then those only added or only removed
    replaced = conflicting_facts(old_facts, new_facts)
    old_values = {(f.unit, f.value) for f in old_facts} | {(b.unit, b.value) for _, b in replaced}
    new_values = {(f.unit, f.value) for f in new_facts} | {(a.unit, a.value) for a, _ in replaced}
    for fact in new_facts:
        if (fact.unit, fact.value) not in old_values:
            old_values.add((fact.unit, fact.value))  # once per figure
            changes.append({"old": "—", "new": fact.text, "old_sentence": "(absent)", "new_sentence": fact.sentence})
    for fact in old_facts:
        if (fact.unit, fact.value) not in new_values:
            new_values.add((fact.unit, fact.value))
            changes.append({"old": fact.text, "new": "—", "old_sentence": fact.sentence, "new_sentence": "(retiré)"})
    return changes[:limit]


def contained_pairs(documents: list[DocumentView], share: float = 0.8) -> list[tuple[DocumentView, DocumentView]]:
    """(a, b) when most passages of `a` reappear in `b`: one page of a guide inside the guide's PDF export.
    Chunk-level MinHash/LSH, so still near-linear."""
    # Passages of two formats are cut at different places: a passage overlaps its counterpart by half or less.
    lsh = MinHashLSH(threshold=PASSAGE_THRESHOLD, num_perm=64)
    owner: dict[str, str] = {}
    signatures: dict[str, MinHash] = {}
    counted: dict[str, int] = defaultdict(int)
    for document in documents:
        for chunk in document.chunks:
            if len(normalised(chunk.text)) < 200:
                continue  # headings and scraps match everywhere
            signatures[chunk.id] = signature(chunk.text, permutations=64)
            owner[chunk.id] = document.doc_id
            counted[document.doc_id] += 1
            lsh.insert(chunk.id, signatures[chunk.id])
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for chunk_id, minhash in signatures.items():
        matches = lsh.query(minhash)
        if len(matches) > BOILERPLATE:
            continue  # a passage found in many documents is boilerplate, not a sign that one copies another
        for other in matches:
            if owner[other] != owner[chunk_id]:
                found[(owner[chunk_id], owner[other])].add(chunk_id)
    by_id = {d.doc_id: d for d in documents}
    return [
        (by_id[a], by_id[b])
        for (a, b), chunks in found.items()
        if counted[a] >= 2 and len(chunks) / counted[a] >= share
    ]


def _superseded(older: DocumentView, newer: DocumentView, similarity: float) -> Finding:
    changes = _figure_changes(older, newer)
    figures = "; ".join(f"{c['old']} → {c['new']}" for c in changes[:3])
    return Finding(
        FindingType.SUPERSEDED,
        Severity.HIGH if changes else Severity.MEDIUM,
        [_place(older), _place(newer)],
        [f"{c['old_sentence']} ⟶ {c['new_sentence']}" for c in changes[:3]]
        or [excerpt(older.text), excerpt(newer.text)],
        f"« {older.title} » ({older.doc_date:%d/%m/%Y}) est remplacé par une version plus récente : "
        f"« {newer.title} » ({newer.doc_date:%d/%m/%Y}), semblable à {similarity:.0%}"
        + (f" ; chiffres modifiés : {figures}." if figures else " (modifications rédactionnelles)."),
        "Retirer l'ancienne version du corpus (ou l'exclure de la recherche) pour que seules les règles en vigueur "
        "soient citées.",
        key=f"{older.path}->{newer.path}",
        details={"older": older.path, "newer": newer.path, "similarity": round(similarity, 3), "changes": changes},
    )


def analyse_similarity(all_documents: list[DocumentView]) -> tuple[list[Finding], set[frozenset[str]]]:
    """Duplicate groups and superseded versions; also returns the document pairs already explained (so that the
    contradiction analysis does not report a version change a second time).

    Versions of one document (same subject, different dates) are chained by date and each one is reported as
    superseded by the next, with the figures that changed between the two.
    """
    findings: list[Finding] = []
    related: set[frozenset[str]] = set()
    duplicates: dict[str, set[str]] = {}
    versions: dict[str, set[str]] = {}
    by_id = {d.doc_id: d for d in all_documents}
    texts = [d for d in all_documents if d.chunks]

    def join(groups: dict[str, set[str]], a: str, b: str) -> None:
        group = groups.get(a, {a}) | groups.get(b, {b})
        for member in group:
            groups[member] = group

    cache = Signatures()
    for pair in similar_pairs(texts, cache):
        a, b = pair.first, pair.second
        related.add(frozenset((a.doc_id, b.doc_id)))
        dated = bool(a.doc_date and b.doc_date and a.doc_date != b.doc_date)
        same_title = title_key(a.title) == title_key(b.title)
        if pair.exact or (pair.similarity >= NEAR_DUPLICATE and not dated):
            join(duplicates, a.doc_id, b.doc_id)
        elif dated and (
            pair.similarity >= NEAR_DUPLICATE or (_folder(a) == _folder(b) and (same_title or pair.similarity >= 0.6))
        ):
            join(versions, a.doc_id, b.doc_id)
    # Same title in the same folder, different dates: versions even when rewritten beyond the MinHash threshold.
    by_title: dict[tuple[str, str], list[DocumentView]] = defaultdict(list)
    for document in texts:
        if document.doc_date:
            by_title[(_folder(document), title_key(document.title))].append(document)
    for (_, title), same in by_title.items():
        # A title carrying a reference (« Article L2113-4 », « F1965 ») names one document whatever its rewrites.
        identified = bool(_REFERENCE.search(title))
        for a, b in combinations(same, 2):
            if a.doc_date != b.doc_date and (identified or cache.of(a).jaccard(cache.of(b)) >= MIN_VERSION_SIMILARITY):
                join(versions, a.doc_id, b.doc_id)
                related.add(frozenset((a.doc_id, b.doc_id)))
    for a, b in contained_pairs(texts):
        if frozenset((a.doc_id, b.doc_id)) not in related:
            related.add(frozenset((a.doc_id, b.doc_id)))
            join(duplicates, a.doc_id, b.doc_id)
    # Byte-identical files are duplicates even without any text (two scans of the same minutes).
    by_file: dict[str, list[DocumentView]] = defaultdict(list)
    for document in all_documents:
        if document.file_hash != EMPTY_FILE_HASH:  # empty files are all « identical »: not copies of anything
            by_file[document.file_hash].append(document)
    for same_file in by_file.values():
        for other in same_file[1:]:
            join(duplicates, same_file[0].doc_id, other.doc_id)
            related.add(frozenset((same_file[0].doc_id, other.doc_id)))

    for group in {frozenset(g) for g in versions.values()}:
        related.update(frozenset(pair) for pair in combinations(group, 2))  # v1 vs v5 is a version change too
        chain = sorted((by_id[doc_id] for doc_id in group), key=lambda d: (d.doc_date, d.path))
        for older, newer in zip(chain, chain[1:], strict=False):
            if older.doc_date == newer.doc_date:
                continue
            similarity = float(cache.of(older).jaccard(cache.of(newer)))
            findings.append(_superseded(older, newer, similarity))
    for group in {frozenset(g) for g in duplicates.values()}:
        members = sorted((by_id[doc_id] for doc_id in group), key=lambda d: d.path)
        keep = _canonical(members)
        formats = sorted({d.format for d in members})
        exact = len({d.file_hash for d in members}) == 1 or (
            all(d.chunks for d in members)
            and len({hashlib.sha256(normalised(d.text).encode()).hexdigest() for d in members}) == 1
        )
        findings.append(
            Finding(
                FindingType.DUPLICATE,
                Severity.MEDIUM,
                [_place(d) for d in members],
                [excerpt(members[0].text)] if members[0].chunks else [],
                f"{len(members)} documents "
                + ("identiques" if exact else "au contenu repris (copies, exports ou extraits)")
                + (f" (formats : {', '.join(formats)})" if len(formats) > 1 else "")
                + f". Copie à conserver : « {keep.path} ».",
                "Supprimer ou exclure les autres copies : les doublons dispersent les réponses et se désynchronisent.",
                key="duplicate",
                details={"canonical": keep.path, "exact": exact, "formats": formats},
            )
        )
    return findings, related
