"""Load: one loader per format family, each turning a file into blocks of text that know their page or section.

Every loader has the signature `(path, options) -> LoadedDocument`; every failure becomes a `DocumentError` whose
message (French, one line) goes into the ingestion report.

- `pdf`: pypdf page by page, OCR of pages without text
- `office`: DOCX, ODT, legacy .doc
- `markup`: HTML, Markdown
- `text`: plain text and text decoding
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from ingest.dates import find_date
from ingest.discover import path_error
from ingest.documents import LoadedDocument, SourceFile
from ingest.loaders.common import LoadOptions, one_line
from ingest.loaders.markup import load_html, load_markdown
from ingest.loaders.office import load_doc, load_docx, load_odt
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import decode, load_text
from sourcier.errors import DocumentError, LimitExceededError, UnsupportedFormatError

__all__ = ["LOADERS", "LoadOptions", "Loader", "decode", "load", "why_unreadable"]

log = logging.getLogger(__name__)

Loader = Callable[[Path, LoadOptions], LoadedDocument]

LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".odt": load_odt,
    ".doc": load_doc,
    ".html": load_html,
    ".htm": load_html,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
}


def load(source: SourceFile, options: LoadOptions | None = None) -> LoadedDocument:
    """Read `source` with the loader for its format; raise `DocumentError` with the reason when it cannot."""
    options = options or LoadOptions()
    if source.size == 0:
        raise DocumentError("Fichier vide (0 octet).")
    if source.size > options.max_file_mb * 1024 * 1024:
        raise DocumentError(f"Fichier trop volumineux ({source.size / 1e6:.0f} Mo > {options.max_file_mb:g} Mo).")
    loader = LOADERS.get(source.extension)
    if loader is None:
        raise UnsupportedFormatError(f"Format non pris en charge : « {source.extension or 'sans extension'} ».")
    try:
        _check_signature(source)
        if source.extension in _ZIP_FORMATS:
            _check_archive(source, options)
        document = loader(source.path, options)
    except DocumentError:
        raise
    except MemoryError as exc:
        raise LimitExceededError(
            f"Lecture interrompue : le fichier demande plus de {options.parse_memory_mb} Mo de mémoire "
            "(réglage ingest.parse_memory_mb)."
        ) from exc
    except Exception as exc:  # parsers raise anything on damaged files; the run must go on
        # The report speaks French to the admin; the library's own (English) words go to the log for a developer.
        log.info("%s: %s: %s", source.relative_path, type(exc).__name__, one_line(exc))
        raise DocumentError(why_unreadable(exc)) from exc
    # Text extracted from PDFs can hold lone UTF-16 surrogates (broken ToUnicode maps): no UTF-8 encoder, hash or
    # store accepts them, and one crashed a whole ingestion run.
    document.title = _without_surrogates(document.title)
    for block in document.blocks:
        block.text = _without_surrogates(block.text)
    # A date stated by the document's own metadata wins, then the file name (council minutes are named
    # after their séance), then the first lines, then the date the file was produced.
    document.doc_date = (
        document.doc_date or find_date(source.path.stem) or find_date(_head(document)) or document.file_date
    )
    if not document.title:
        document.title = heading_of(document) or source.path.stem.replace("_", " ").replace("-", " ").strip()
    return document


_PAGE_NUMBER = re.compile(r"^[\W\d_]*$")  # « 1 », « - 2 - », « * »: no letters
_LEADING_PAGE_NUMBER = re.compile(r"^\d{1,2} (?=[A-ZÀ-Ý])")  # « 1 Putanges-le-Lac, séance du … »


def why_unreadable(exc: Exception) -> str:
    """The reason a parser's exception gives the admin, in French (libraries speak English)."""
    from lxml.etree import LxmlError

    if isinstance(exc, OSError):
        return path_error(exc, "fichier")
    if isinstance(exc, RecursionError):
        return "Structure du document trop imbriquée pour être lue."
    if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile | EOFError):
        return "Archive endommagée ou tronquée : le fichier ne peut pas être décompressé. Enregistrez-le à nouveau."
    if isinstance(exc, LxmlError | ElementTree.ParseError):
        return "Contenu XML invalide : le fichier est endommagé ou n'a pas été enregistré jusqu'au bout."
    if isinstance(exc, UnicodeError):
        return "Texte dans un encodage illisible : enregistrez le fichier en UTF-8."
    return "Lecture impossible : fichier endommagé, ou variante du format que le lecteur ne connaît pas."


def heading_of(document: LoadedDocument, max_length: int = 120) -> str:
    """The line a document opens with, as its title: « CR du conseil municipal 17 septembre 2021 » says more than
    the file name « CR_reunion_20210917 ». A heading without a date (« COMMUNE DE PUTANGES-LE-LAC ») takes the next
    line that has one (« SEANCE DU 31 JANVIER 2022 »). Nothing when the text opens with a sentence, a list of
    names or a label: the file name is then better than a guess."""
    lines = [" ".join(line.split()) for block in document.blocks[:6] for line in block.text.splitlines()]
    lines = [_LEADING_PAGE_NUMBER.sub("", line) for line in lines if not _PAGE_NUMBER.match(line)][:4]

    def heading(line: str, words: int = 2) -> bool:
        return (
            6 <= len(line) <= max_length
            and len(re.findall(r"[^\W\d_]{3,}", line)) >= words  # OCR debris (« Jp Age. 2x ») has few real words
            and not re.search(r"[.:;,]$|\s:\s|^l[’']an\b", line, re.IGNORECASE)
        )

    if not lines or not heading(lines[0]):
        return ""
    title = lines[0]
    if not re.search(r"\d", title) and len(lines) > 1 and heading(lines[1], words=1) and re.search(r"\d", lines[1]):
        title += (" " if lines[1][0].islower() else " — ") + lines[1]
    return title


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    return _SURROGATE.sub("", text) if text else text


def _head(document: LoadedDocument, characters: int = 1500) -> str:
    return " ".join(block.text for block in document.blocks)[:characters]


# --- signatures: a wrong extension gets a precise reason rather than a parser stack trace -------------

_ZIP_FORMATS = {".docx", ".odt"}


def _check_signature(source: SourceFile) -> None:
    with source.path.open("rb") as handle:
        head = handle.read(8)
    ext = source.extension
    if ext == ".pdf" and not head.startswith(b"%PDF"):
        # Tolerate a little junk before the header, as PDF readers do.
        with source.path.open("rb") as handle:
            if b"%PDF" not in handle.read(1024):
                raise DocumentError(f"Ce fichier n'est pas un PDF (contenu de type {_describe(head)}).")
    elif ext in _ZIP_FORMATS and not zipfile.is_zipfile(source.path):
        raise DocumentError(
            f"Ce fichier {ext[1:].upper()} n'est pas une archive valide (contenu de type {_describe(head)})."
        )
    elif ext == ".doc" and head.startswith(b"PK"):
        raise DocumentError("Ce fichier .doc est en réalité un DOCX : renommez-le en .docx.")


def _describe(head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"PK"):
        return "archive ZIP"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "document Office ancien (.doc/.xls)"
    if head.lstrip().lower().startswith((b"<!doc", b"<html", b"<?xml")):
        return "HTML/XML"
    if not head:
        return "vide"
    try:
        head.decode("utf-8")
        return "texte"
    except UnicodeDecodeError:
        return "binaire inconnu"


def _check_archive(source: SourceFile, options: LoadOptions) -> None:
    """DOCX and ODT are zip archives: what they would unpack to is known before anything is unpacked."""
    with zipfile.ZipFile(source.path) as archive:
        members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    if len(members) > options.max_archive_members:
        raise LimitExceededError(
            f"Archive de {len(members)} éléments : au-delà de la limite de {options.max_archive_members} "
            "(réglage ingest.max_archive_members)."
        )
    if unpacked > options.max_unpacked_mb * 1024 * 1024:
        raise LimitExceededError(
            f"Ce fichier se décompresserait en {unpacked / 1e6:.0f} Mo (archive piégée ?) : au-delà de la limite de "
            f"{options.max_unpacked_mb:g} Mo (réglage ingest.max_unpacked_mb)."
        )
