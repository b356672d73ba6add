"""Split: blocks → chunks that never cross a page or a section, sized for the embedding model's window."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.documents import Block, Chunk, LoadedDocument, SourceFile
from sourcier.hashing import sha256_bytes
from sourcier.settings import ChunkingSettings

SECTION_SEPARATOR = " > "


class Splitter:
    def __init__(self, settings: ChunkingSettings) -> None:
        self.settings = settings
        self._long_blocks = RecursiveCharacterTextSplitter(
            chunk_size=settings.size,
            chunk_overlap=min(settings.overlap, settings.size // 2),
            separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def run(
        self, source: SourceFile, document: LoadedDocument, file_hash: str, version: str | None = None
    ) -> list[Chunk]:
        """`version` identifies this file content *and* these chunking settings (default: the file hash)."""
        version = version or file_hash
        texts: list[tuple[str, Block]] = []
        for group in self._groups(document.blocks):
            joined = "\n".join(block.text for block in group)
            pieces = [joined] if len(joined) <= self.settings.size else self._long_blocks.split_text(joined)
            place = Block("", group[0].page, _common_prefix([block.section for block in group]))
            texts.extend((piece.strip(), place) for piece in pieces if piece.strip())
        return [
            self._chunk(source, document, file_hash, version, index, text, block)
            for index, (text, block) in enumerate(texts)
        ]

    def _groups(self, blocks: list[Block]) -> list[list[Block]]:
        """Consecutive blocks of one page and section, up to the chunk size; tiny sections join the next."""
        groups: list[list[Block]] = []
        current: list[Block] = []
        size = 0
        for block in blocks:
            if current:
                same_place = block.page == current[0].page and block.section == current[0].section
                too_small = size < self.settings.min_size and block.page == current[0].page
                fits = size + len(block.text) + 1 <= self.settings.size
                if not ((same_place or too_small) and fits):
                    groups.append(current)
                    current, size = [], 0
            current.append(block)
            size += len(block.text) + 1
        if current:
            groups.append(current)
        return groups

    def _chunk(
        self,
        source: SourceFile,
        document: LoadedDocument,
        file_hash: str,
        version: str,
        index: int,
        text: str,
        block: Block,
    ) -> Chunk:
        section = SECTION_SEPARATOR.join(block.section)
        # Title and section give the embedding model the context a bare paragraph lacks.
        context = document.title + (f" — {section}" if section else "")
        embedding_text = f"{context}\n{text}"
        metadata: dict[str, str | int | float | bool] = {
            "doc_id": source.doc_id,
            "source": source.relative_path,
            "title": document.title,
            "format": document.format,
            "service": source.service,
            "chunk_index": index,
            "file_hash": file_hash,
            "version": version,
            "content_hash": sha256_bytes(embedding_text.encode("utf-8"))[:32],
        }
        # Chroma refuses None values: absent facts are absent keys.
        if block.page is not None:
            metadata["page"] = block.page
            if block.page in document.ocr_pages:
                metadata["ocr"] = True
        if section:
            metadata["section"] = section
        if document.doc_date is not None:
            metadata["doc_date"] = document.doc_date.isoformat()
            metadata["doc_year"] = document.doc_date.year
        chunk_id = make_chunk_id(source.doc_id, version, index)
        metadata["chunk_id"] = chunk_id
        return Chunk(id=chunk_id, text=text, embedding_text=embedding_text, metadata=metadata)


def make_chunk_id(doc_id: str, version: str, index: int) -> str:
    return f"{doc_id}:{version[:12]}:{index:04d}"


def opening_chunk_id(chunk_id: str) -> str:
    """The id of the first chunk of the document (this version of it) that `chunk_id` belongs to."""
    return chunk_id.rpartition(":")[0] + ":0000"


def _common_prefix(sections: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The section path shared by all merged blocks: a chunk never claims a narrower section than it spans."""
    prefix = sections[0]
    for section in sections[1:]:
        length = 0
        while length < min(len(prefix), len(section)) and prefix[length] == section[length]:
            length += 1
        prefix = prefix[:length]
    return prefix
