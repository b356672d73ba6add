"""PDF: pypdf, page by page (page numbers are what citations need); pages without text go to OCR when possible."""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from pathlib import Path

from ingest import ocr
from ingest.documents import Block, LoadedDocument
from ingest.loaders.common import LoadOptions, paragraphs, tidy
from sourcier.errors import DocumentError, LimitExceededError
from sourcier.french import plural


def load_pdf(path: Path, options: LoadOptions) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("PDF protégé par un mot de passe : fournissez une version non chiffrée.")
        pages = reader.pages
        page_count = len(pages)
    except FileNotDecryptedError as exc:
        raise DocumentError("PDF protégé par un mot de passe : fournissez une version non chiffrée.") from exc
    except PdfReadError as exc:
        raise DocumentError("PDF endommagé ou tronqué : sa structure ne peut pas être lue.") from exc
    if page_count == 0:
        raise DocumentError("PDF sans aucune page lisible (fichier tronqué ?).")
    if page_count > options.max_pages:
        raise LimitExceededError(
            f"PDF de {page_count} pages : au-delà de la limite de {options.max_pages} pages par fichier "
            "(réglage ingest.max_pages). Découpez-le."
        )
    blocks: list[Block] = []
    empty_pages: list[int] = []
    failed_pages: list[int] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page must not lose the others
            failed_pages.append(number)
            continue
        text = tidy(text)
        if len(text) < 20:
            empty_pages.append(number)
            continue
        blocks.extend(Block(paragraph, page=number) for paragraph in paragraphs(text))
    ocr_pages: list[int] = []
    ocr_failed: list[int] = []
    ocr_skipped = 0
    if empty_pages and options.ocr and ocr.available():
        chosen = empty_pages[: options.max_ocr_pages]
        read, ocr_failed = ocr.read_pages(path, chosen, deadline=time.monotonic() + options.max_ocr_seconds)
        ocr_skipped = len(empty_pages) - len(read) - len(ocr_failed)
        for number, text in read.items():
            text = tidy(text)
            if len(text) >= 20:
                ocr_pages.append(number)
                blocks.extend(Block(paragraph, page=number) for paragraph in paragraphs(text))
        blocks.sort(key=lambda block: block.page or 0)
        empty_pages = [number for number in empty_pages if number not in ocr_pages]
    document = LoadedDocument(
        title=_pdf_title(reader, blocks),
        format="pdf",
        blocks=blocks,
        pages=page_count,
        pages_without_text=empty_pages,
        ocr_pages=ocr_pages,
    )
    if ocr_pages:
        document.notes.append(f"Texte reconnu par OCR (à vérifier) : pages {page_list(ocr_pages)}.")
    if ocr_skipped:
        document.notes.append(
            f"OCR limité : {plural(ocr_skipped, 'page')} sans texte non {'lue' if ocr_skipped < 2 else 'lues'} "
            f"(limites ingest.max_ocr_pages = "
            f"{options.max_ocr_pages} pages et ingest.max_ocr_seconds = {options.max_ocr_seconds:g} s par fichier)."
        )
    if ocr_failed:
        one = len(ocr_failed) == 1
        document.notes.append(
            f"OCR impossible sur {'la page' if one else 'les pages'} {page_list(ocr_failed)} "
            f"({'trop grande ou endommagée' if one else 'trop grandes ou endommagées'})."
        )
    if failed_pages:
        document.notes.append(f"Pages illisibles ignorées : {page_list(failed_pages)}.")
    if empty_pages and blocks:
        document.notes.append(f"Pages sans texte (images ?) : {page_list(empty_pages)}.")
    document.file_date = _pdf_date(reader)
    return document


def _pdf_title(reader, blocks: list[Block]) -> str:
    try:
        title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except Exception:
        title = ""
    # Producers often leave "Microsoft Word - x.docx" or a file name as the title, scanners their own job name
    # ("KM_C308-20180219141013"): not worth showing.
    producer_leftover = re.search(r"\.(docx?|odt|pdf)$|^microsoft|^untitled|^sans titre", title, re.IGNORECASE)
    identifier = " " not in title and re.search(r"\d", title)
    if title and not producer_leftover and not identifier:
        return title
    return ""


def _pdf_date(reader) -> date | None:
    try:
        created: datetime | None = reader.metadata.creation_date if reader.metadata else None
    except Exception:
        return None
    return created.date() if created else None


def page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:12])
    return shown + (f" … ({len(numbers)} pages)" if len(numbers) > 12 else "")
