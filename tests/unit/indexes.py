"""A small live index for the fast tier: real manifest and lexical index on disk, chunks in a `MemoryStore`."""

from __future__ import annotations

from pathlib import Path

from ingest.documents import Chunk
from ingest.lexical import LexicalIndex
from ingest.live import LiveIndex
from ingest.manifest import DocumentRecord, Manifest
from sourcier.layout import StoreLayout
from sourcier.settings import Settings, StoreSettings
from tests.fakes import SYSTEM, HashingEmbedder, MemoryStore

PASSAGES = {
    ("elections", "liste"): [
        "Pour s'inscrire sur la liste électorale, fournissez un justificatif de domicile de moins de 3 mois "
        "et une pièce d'identité.",
        "L'inscription sur la liste électorale est possible en mairie ou en ligne jusqu'au sixième vendredi "
        "précédant le scrutin.",
    ],
    ("etat-civil", "mariage"): [
        "Le dossier de mariage comprend un acte de naissance de moins de 3 mois pour chacun des futurs époux.",
    ],
    ("urbanisme", "permis"): [
        "Le permis de construire est exigé pour une construction de plus de 20 mètres carrés de surface.",
    ],
    ("rh", "horaires"): [
        "Les agents travaillent 1 607 heures par an ; les horaires variables sont fixés par le chef de service.",
    ],
}


def doc_id(service: str, name: str) -> str:
    return f"{service}-{name}"


def build(
    tmp_path: Path, embedder: HashingEmbedder | None = None, passages: dict = PASSAGES
) -> tuple[Settings, LiveIndex, MemoryStore]:
    embedder = embedder or HashingEmbedder()
    settings = Settings(corpus_dir=tmp_path / "corpus", store=StoreSettings(path=tmp_path / "vectorstore"))
    layout = StoreLayout(settings.store.path).ensure()
    store = MemoryStore(settings.store.collection)
    with Manifest(settings.store) as manifest:
        for (service, name), texts in passages.items():
            chunks = [
                Chunk(
                    id=f"{doc_id(service, name)}:v1:{i:04d}",
                    text=text,
                    embedding_text=text,
                    metadata={
                        "doc_id": doc_id(service, name),
                        "version": "v1",
                        "content_hash": f"{name}{i}",
                        "service": service,
                        "source": f"{service}/{name}.html",
                        "title": name.capitalize(),
                        "chunk_index": i,
                    },
                )
                for i, text in enumerate(texts)
            ]
            store.upsert(chunks, embedder.embed_passages([c.embedding_text for c in chunks]))
            manifest.record(
                store.name,
                DocumentRecord(
                    path=f"{service}/{name}.html",
                    doc_id=doc_id(service, name),
                    file_hash="h",
                    indexed_hash="v1",
                    status="indexed",
                    chunks=len(chunks),
                    title=name.capitalize(),
                    service=service,
                ),
            )
    LexicalIndex.sync(layout.lexical(store.name), store)
    return settings, LiveIndex.open(settings, store=store, reader=SYSTEM), store


def exclude(settings: Settings, service: str, name: str) -> None:
    with Manifest(settings.store) as manifest:
        manifest.exclude(doc_id(service, name), f"{service}/{name}.html", reason="test")
