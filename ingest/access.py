"""Write the access policy into the index: each chunk's `access` metadata lists the groups that may read it.

Ingestion labels new chunks as it writes them and calls `label_chunks` at the end of every run (so a policy change
reaches unchanged documents too); `sourcier access apply` calls it alone, under the ingestion lock. Only metadata is
written: no text is read again, no vector recomputed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import Chunk
from ingest.store import VectorStore
from sourcier.access import ACCESS_KEY, AccessPolicy

_PAGE = 5000


@dataclass(frozen=True)
class Relabelled:
    chunks: int  # chunks whose groups changed
    documents: int
    total: int  # chunks looked at


def label(chunks: list[Chunk], policy: AccessPolicy, corpus_dir: Path) -> None:
    for chunk in chunks:
        chunk.metadata[ACCESS_KEY] = policy.document_groups(str(chunk.metadata["source"]), corpus_dir)


def label_chunks(store: VectorStore, policy: AccessPolicy, corpus_dir: Path) -> Relabelled:
    """Bring every chunk's groups in line with the policy; returns what changed."""
    groups_of: dict[str, list[str]] = {}
    changed_ids: list[str] = []
    changed_metadatas: list[dict] = []
    documents: set[str] = set()
    total = 0
    for start in itertools.count(0, _PAGE):
        page = store.get(limit=_PAGE, offset=start)
        for chunk in page:
            source = str(chunk.metadata.get("source", ""))
            if source not in groups_of:
                groups_of[source] = policy.document_groups(source, corpus_dir)
            wanted = groups_of[source]
            if list(chunk.metadata.get(ACCESS_KEY) or []) != wanted:
                changed_ids.append(chunk.id)
                changed_metadatas.append({ACCESS_KEY: wanted})
                documents.add(source)
        total += len(page)
        if len(page) < _PAGE:
            break
    store.update_metadata(changed_ids, changed_metadatas)
    return Relabelled(len(changed_ids), len(documents), total)
