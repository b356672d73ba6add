"""Plain text, and the decoding every text-based format shares."""

from __future__ import annotations

from pathlib import Path

from ingest.documents import Block, LoadedDocument
from ingest.loaders.common import LoadOptions, paragraphs, tidy
from sourcier.errors import DocumentError


def load_text(path: Path, options: LoadOptions) -> LoadedDocument:
    text = tidy(decode_text(path.read_bytes()))
    return LoadedDocument(title="", format="txt", blocks=[Block(p) for p in paragraphs(text)])


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, then Windows-1252, the usual legacy of French offices."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise DocumentError("Encodage illisible : le fichier texte contient des octets binaires.")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DocumentError("Encodage illisible : ni UTF-8 ni Windows-1252.") from exc
