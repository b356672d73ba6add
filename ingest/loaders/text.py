"""Plain text, and the decoding every text-based format shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import Block, LoadedDocument
from ingest.loaders.common import LoadOptions, paragraphs, tidy
from sourcier.errors import DocumentError

_UTF7_RUN = re.compile(rb"\+[A-Za-z0-9/+]{2,}-")
_BOMS = [
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
]
# A UTF-8 file with a few damaged bytes is still UTF-8 (a legacy file has a bad byte at every accent): up to one
# bad sequence per this many characters, provided valid multi-byte characters outnumber them, they are replaced.
_CHARS_PER_BAD_BYTE = 1000


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    note: str | None = None  # for the admin, when the decoding is approximate


def load_text(path: Path, options: LoadOptions) -> LoadedDocument:
    decoded = decode(path.read_bytes())
    document = LoadedDocument(title="", format="txt", blocks=[Block(p) for p in paragraphs(tidy(decoded.text))])
    if decoded.note:
        document.notes.append(decoded.note)
    return document


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """Text from bytes: by BOM, then as UTF-8 (tolerating a few damaged bytes), then by the encoding the document
    declares (HTML), then by detection (charset-normalizer: Windows-1252, Latin-1, DOS, Mac… the legacy of French
    offices). Binary data is refused rather than indexed as garbage."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(encoding, errors="replace"), encoding)
    try:
        text = data.decode("utf-8")
        return _utf7(data) or Decoded(text, "utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        utf16 = _utf16_without_bom(data)
        if utf16:
            return utf16
        raise DocumentError("Encodage illisible : le fichier texte contient des octets binaires.")
    repaired = data.decode("utf-8", errors="replace")
    bad = repaired.count("\ufffd")
    multibyte = sum(1 for char in repaired if ord(char) > 127) - bad
    if multibyte > bad and bad <= max(1, len(repaired) // _CHARS_PER_BAD_BYTE):
        damaged = "1 caractère endommagé remplacé" if bad == 1 else f"{bad} caractères endommagés remplacés"
        return Decoded(repaired, "utf-8", f"Texte UTF-8 : {damaged} par « \ufffd ».")
    if declared:
        try:
            return Decoded(data.decode(declared), declared)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common: detect instead
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DocumentError("Encodage illisible : aucun encodage de texte connu ne correspond à ce fichier.")
    return Decoded(str(best), best.encoding)


def _utf16_without_bom(data: bytes) -> Decoded | None:
    """UTF-16 without its byte-order mark (some Windows exports): every other byte is NUL for Latin text. Taken
    when one byte order gives text that is nearly all letters, spaces and punctuation."""
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    encoding = (
        "utf-16-le"
        if odd > 0.3 * len(head) / 2 and even == 0
        else ("utf-16-be" if even > 0.3 * len(head) / 2 and odd == 0 else None)
    )
    if encoding is None or len(data) % 2:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    printable = sum(1 for char in text[:2000] if char.isprintable() or char in "\n\r\t")
    if printable < 0.95 * min(len(text), 2000):
        return None
    return Decoded(text, encoding, "Texte en UTF-16 sans marque d'ordre des octets : décodé.")


def _utf7(data: bytes) -> Decoded | None:
    """UTF-7 (old mail exports) is valid ASCII: « d+AOk-lai ». Recognised when its runs decode to Latin letters."""
    if len(_UTF7_RUN.findall(data)) < 3:
        return None
    try:
        text = data.decode("utf-7")
    except UnicodeDecodeError:
        return None
    decoded = [char for char in text if ord(char) > 127]
    if decoded and all(char.isalpha() and ord(char) < 0x250 for char in decoded):
        return Decoded(text, "utf-7")
    return None
