"""Lexical retrieval: BM25 over French-normalised chunks, persisted beside the vector store.

Ingestion keeps it up to date (only new chunks are tokenised); queries load it once. Metadata filters apply here
exactly as in Chroma, *before* ranking, so that access control can rely on them.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import bm25s
import numpy as np
import orjson

from sourcier.french import content_terms

if TYPE_CHECKING:
    from ingest.store import VectorStore

_PAGE = 5000
_FORMAT = "sourcier-lexical-1"

# bm25s logs each index build at DEBUG through its own handler: not for users' terminals.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    def __init__(self, entries: dict[str, tuple[list[str], dict]]) -> None:
        self.entries = entries
        self.ids = list(entries)
        self.metadatas = [entries[i][1] for i in self.ids]
        corpus = [entries[i][0] or ["∅"] for i in self.ids]
        # Which chunks a filter lets through, by filter: a reader asks with the same rights query after query, and
        # evaluating a filter costs a pass over every chunk's metadata.
        self._allowed: dict[str, np.ndarray] = {}
        self._allowed_lock = threading.Lock()  # conversations are answered by worker threads
        # bm25s scores with sparse matrices: a query costs the postings of its terms, not a pass over all chunks.
        self._bm25 = None
        if corpus:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    # --- persistence ----------------------------------------------------------------------------------

    # Saved as JSON, never pickled: loading a pickle runs whatever code the file names, and the index lives in a
    # folder that replicas share. A file that is not what `save` writes is rebuilt from the store, not trusted.
    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        return cls(_read(path) or {})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)  # a new replica's folder holds nothing yet
        temporary = path.with_suffix(f".{os.getpid()}.tmp")  # replicas sharing a folder may save at once
        temporary.write_bytes(orjson.dumps({"format": _FORMAT, "entries": self.entries}))
        temporary.replace(path)

    @staticmethod
    def remove(path: Path) -> None:
        """The saved index and its version, of a collection that is gone."""
        path.unlink(missing_ok=True)
        _version_file(path).unlink(missing_ok=True)

    @classmethod
    def at_version(cls, path: Path, store: VectorStore, version: str) -> LexicalIndex:
        """The index of `store` as of `version` (the manifest's index version): the saved one when it is that
        version, else derived from the store again (a replica on another server, or after an ingestion)."""
        recorded = _version_file(path).read_text() if _version_file(path).is_file() else ""
        saved = _read(path) if recorded == version else None  # "" for both: from before versions were recorded
        return cls(saved) if saved is not None else cls.sync(path, store, version)

    @classmethod
    def sync(cls, path: Path, store: VectorStore, version: str | None = None) -> LexicalIndex:
        """Bring the saved index in line with a store: drop gone chunks, tokenise new ones; `version` is recorded
        beside it."""
        entries = _read(path) or {}
        current: dict[str, dict] = {}
        for start in itertools.count(0, _PAGE):
            page = store.get(limit=_PAGE, offset=start)
            current.update((chunk.id, chunk.metadata) for chunk in page)
            if len(page) < _PAGE:
                break
        # Metadata is taken fresh for every chunk: access rights change without the text changing.
        entries = {i: (terms, current[i]) for i, (terms, _) in entries.items() if i in current}
        missing = [i for i in current if i not in entries]
        for start in range(0, len(missing), 1000):
            for chunk in store.get(ids=missing[start : start + 1000]):
                context = f"{chunk.metadata.get('title', '')} {chunk.metadata.get('section', '')}"
                entries[chunk.id] = (content_terms(f"{context}\n{chunk.text}"), chunk.metadata)
        index = cls(entries)
        index.save(path)
        path.with_suffix(".pkl").unlink(missing_ok=True)  # the pickled index of earlier versions: never read again
        if version is not None:
            _version_file(path).write_text(version)
        return index

    # --- search ---------------------------------------------------------------------------------------

    def _mask(self, where: dict) -> np.ndarray:
        key = _mask_key(where)
        with self._allowed_lock:
            mask = self._allowed.get(key)
        if mask is None:
            mask = np.fromiter((matches(metadata, where) for metadata in self.metadatas), dtype=bool)
            with self._allowed_lock:
                if len(self._allowed) >= 256:  # bounded: one entry per set of rights and exclusions
                    self._allowed.pop(next(iter(self._allowed)))
                self._allowed[key] = mask
        return mask

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        if self._bm25 is None:
            return []
        terms = [term for term in content_terms(query) if term in self._bm25.vocab_dict]
        if not terms:
            return []
        scores = self._bm25.get_scores(terms)
        if where:
            scores = np.where(self._mask(where), scores, -np.inf)
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]


def _read(path: Path) -> dict[str, tuple[list[str], dict]] | None:
    """The entries `save` wrote at `path`; None when there is no such file or it is anything else."""
    try:
        saved = orjson.loads(path.read_bytes())
        if saved.get("format") != _FORMAT:
            return None
        return {chunk_id: (list(terms), dict(metadata)) for chunk_id, (terms, metadata) in saved["entries"].items()}
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None


def _mask_key(where: dict) -> str:
    return json.dumps(where, sort_keys=True, ensure_ascii=False)


def _version_file(path: Path) -> Path:
    return path.with_suffix(".version")


def matches(metadata: dict, where: dict) -> bool:
    """The subset of Chroma's `where` language Sourcier uses: equality, $eq, $ne, $in, $nin, $and, $or, and
    $contains on list values (the groups that may read a chunk)."""
    for key, condition in where.items():
        if key == "$and":
            if not all(matches(metadata, part) for part in condition):
                return False
        elif key == "$or":
            if not any(matches(metadata, part) for part in condition):
                return False
        elif isinstance(condition, dict):
            value = metadata.get(key)
            for operator, operand in condition.items():
                if operator == "$eq" and value != operand:
                    return False
                if operator == "$ne" and value == operand:
                    return False
                if operator == "$in" and value not in operand:
                    return False
                if operator == "$nin" and value in operand:
                    return False
                if operator == "$contains" and not (isinstance(value, list) and operand in value):
                    return False
                if operator not in {"$eq", "$ne", "$in", "$nin", "$contains"}:
                    raise ValueError(f"opérateur de filtre non pris en charge : {operator}")
        elif metadata.get(key) != condition:
            return False
    return True
