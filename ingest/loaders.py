"""Load: one function per format, each turning a file into blocks of text that know their page or section.

Every failure becomes a `DocumentError` whose message (French, one line) goes into the ingestion report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path

from ingest import ocr
from ingest.dates import find_date
from ingest.documents import Block, LoadedDocument, SourceFile
from sourcier.errors import DocumentError, UnsupportedFormatError

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def load(source: SourceFile, max_file_mb: float = 100, ocr_enabled: bool = True) -> LoadedDocument:
    """Read `source` with the loader for its format; raise `DocumentError` with the reason when it cannot."""
    if source.size == 0:
        raise DocumentError("Fichier vide (0 octet).")
    if source.size > max_file_mb * 1024 * 1024:
        raise DocumentError(f"Fichier trop volumineux ({source.size / 1e6:.0f} Mo > {max_file_mb:g} Mo).")
    loader = LOADERS.get(source.extension)
    if loader is None:
        raise UnsupportedFormatError(f"Format non pris en charge : « {source.extension or 'sans extension'} ».")
    _check_signature(source)
    try:
        document = load_pdf(source.path, ocr_enabled) if loader is load_pdf else loader(source.path)
    except DocumentError:
        raise
    except Exception as exc:  # parsers raise anything on damaged files; the run must go on
        raise DocumentError(f"Lecture impossible ({type(exc).__name__}) : {_one_line(exc)}") from exc
    # A date stated by the document's own metadata wins, then the file name (council minutes are named
    # after their séance), then the first lines, then the date the file was produced.
    document.doc_date = (
        document.doc_date or find_date(source.path.stem) or find_date(_head(document)) or document.file_date
    )
    if not document.title:
        document.title = source.path.stem.replace("_", " ").replace("-", " ").strip()
    return document


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


# --- PDF: pypdf, page by page (page numbers are what citations need) ---------------------------------


def load_pdf(path: Path, ocr_enabled: bool = True) -> LoadedDocument:
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
        raise DocumentError(f"PDF endommagé ou tronqué : {_one_line(exc)}") from exc
    if page_count == 0:
        raise DocumentError("PDF sans aucune page lisible (fichier tronqué ?).")
    blocks: list[Block] = []
    empty_pages: list[int] = []
    failed_pages: list[int] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page must not lose the others
            failed_pages.append(number)
            continue
        text = _tidy(text)
        if len(text) < 20:
            empty_pages.append(number)
            continue
        blocks.extend(Block(paragraph, page=number) for paragraph in _paragraphs(text))
    ocr_pages: list[int] = []
    if empty_pages and ocr_enabled and ocr.available():
        for number, text in ocr.read_pages(path, empty_pages).items():
            text = _tidy(text)
            if len(text) >= 20:
                ocr_pages.append(number)
                blocks.extend(Block(paragraph, page=number) for paragraph in _paragraphs(text))
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
        document.notes.append(f"Texte reconnu par OCR (à vérifier) : pages {_pages(ocr_pages)}.")
    if failed_pages:
        document.notes.append(f"Pages illisibles ignorées : {_pages(failed_pages)}.")
    if empty_pages and blocks:
        document.notes.append(f"Pages sans texte (images ?) : {_pages(empty_pages)}.")
    document.file_date = _pdf_date(reader)
    return document


def _pdf_title(reader, blocks: list[Block]) -> str:
    try:
        title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except Exception:
        title = ""
    # Producers often leave "Microsoft Word - x.docx" or a file name as the title: not worth showing.
    if title and not re.search(r"\.(docx?|odt|pdf)$|^microsoft|^untitled|^sans titre", title, re.IGNORECASE):
        return title
    return ""


def _pdf_date(reader) -> date | None:
    try:
        created: datetime | None = reader.metadata.creation_date if reader.metadata else None
    except Exception:
        return None
    return created.date() if created else None


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:12])
    return shown + (f" … ({len(numbers)} pages)" if len(numbers) > 12 else "")


def _tidy(text: str) -> str:
    text = text.replace("\x00", "").replace("\u00ad", "")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"-\n(?=[a-zà-ÿ])", "", text)  # words hyphenated across lines
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _paragraphs(text: str) -> Iterable[str]:
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if paragraph:
            yield paragraph


# --- Word processing and web formats: unstructured's element model (titles, narrative, lists, tables) -


def _unstructured_ready() -> None:
    """unstructured downloads an English spaCy model from GitHub on first use: hand it a French pipeline.

    It only needs sentence boundaries and part-of-speech tags to guess titles from plain text; its verb test knows
    English tags only, so a statistical French model adds nothing but time (70 % of HTML parsing). A blank French
    tokenizer with the rule-based sentencizer gives the same elements, offline, without any model file.
    """
    import spacy
    import unstructured.nlp.tokenize as tokenize

    if getattr(tokenize._load_spacy_model, "_sourcier", False):
        return

    def french_sentences():
        nlp = spacy.blank("fr")
        nlp.add_pipe("sentencizer")
        return nlp

    french_sentences._sourcier = True  # type: ignore[attr-defined]
    tokenize._load_spacy_model = french_sentences
    tokenize._get_nlp.cache_clear()


def _from_elements(elements, fmt: str, title: str = "") -> LoadedDocument:
    """Turn unstructured elements into blocks carrying their heading path."""
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for element in elements:
        category = element.category
        text = _clean_heading(str(element)) if category == "Title" else str(element).strip()
        if not text:
            continue
        if category == "Title" and not _looks_like_heading(text):
            category = "NarrativeText"  # unstructured takes short bold sentences for titles
        if category == "Title":
            depth = element.metadata.category_depth or 0
            if not title:
                title = text
                continue
            if text == title:
                continue
            headings = [(d, h) for d, h in headings if d < depth] + [(depth, text)]
            continue
        if category == "Table":
            text = _table_text(element) or text
        if category == "ListItem":
            text = f"- {text}"
        page = element.metadata.page_number if fmt in {"docx", "odt"} else None
        blocks.append(Block(text, page=page, section=tuple(h for _, h in headings)))
    return LoadedDocument(title=title, format=fmt, blocks=_merge_small(blocks))


def _looks_like_heading(text: str) -> bool:
    return len(text) <= 120 and not text.endswith((".", ":", ";", ",")) and "\n" not in text


def _clean_heading(text: str) -> str:
    # VuePress renders an anchor "#" before each heading.
    return re.sub(r"^#+\s*", "", text.strip()).strip()


def _table_text(element) -> str:
    """Rows as lines and cells separated by " | ": keeps the table readable for the model and the reader."""
    html = getattr(element.metadata, "text_as_html", None)
    if not html:
        return ""
    from lxml import html as lxml_html

    rows = []
    for row in lxml_html.fromstring(html).iter("tr"):
        cells = [" ".join(cell.text_content().split()) for cell in row if cell.tag in {"td", "th"}]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _merge_small(blocks: list[Block]) -> list[Block]:
    """Consecutive list items and short lines of one section become one block, so lists stay whole."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            previous
            and previous.section == block.section
            and previous.page == block.page
            and (block.text.startswith("- ") or len(block.text) < 60 or len(previous.text) < 60)
        ):
            previous.text = f"{previous.text}\n{block.text}"
        else:
            merged.append(Block(block.text, block.page, block.section))
    return merged


def load_docx(path: Path) -> LoadedDocument:
    _unstructured_ready()
    from unstructured.partition.docx import partition_docx

    try:
        elements = partition_docx(filename=str(path), infer_table_structure=True)
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentError(f"DOCX endommagé : {_one_line(exc)}") from exc
    # The core-properties title is usually a leftover of the template the file was made from: not used.
    return _from_elements(elements, "docx")


def load_odt(path: Path) -> LoadedDocument:
    _unstructured_ready()
    from unstructured.partition.odt import partition_odt

    return _from_elements(partition_odt(filename=str(path), infer_table_structure=True), "odt")


def load_doc(path: Path) -> LoadedDocument:
    """Legacy Word: converted by LibreOffice when it is installed, never guessed at."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise UnsupportedFormatError(
            "Format Word ancien (.doc) : installez LibreOffice (paquet libreoffice-writer) pour le convertir, "
            "ou enregistrez-le en .docx."
        )
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [
                soffice,
                "--headless",
                "--norestore",
                f"-env:UserInstallation=file://{tmp}/profile",
                "--convert-to",
                "docx",
                "--outdir",
                tmp,
                str(path),
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        converted = Path(tmp) / (path.stem + ".docx")
        if result.returncode != 0 or not converted.exists():
            raise DocumentError("Conversion LibreOffice du .doc impossible (fichier endommagé ?).")
        document = load_docx(converted)
    document.format = "doc"
    return document


def load_html(path: Path) -> LoadedDocument:
    _unstructured_ready()
    from lxml import html as lxml_html
    from unstructured.partition.html import partition_html

    text = decode_text(path.read_bytes())
    tree = lxml_html.fromstring(text.encode("utf-8"))
    # Site chrome (menus, sidebars, footers, scripts) is not document content.
    for node in tree.xpath(
        "//nav|//header|//footer|//aside[not(@class='ANoter')]|//script|//style|//noscript"
        "|//*[contains(@class,'sidebar') or contains(@class,'navbar')]"
    ):
        node.drop_tree()
    meta = {m.get("name", "").lower(): m.get("content", "") for m in tree.xpath("//meta[@name]")}
    title_nodes = tree.xpath("//title/text()")
    title = " ".join(title_nodes[0].split()) if title_nodes else ""
    title = re.sub(r"\s*[|–-]\s*guides\.etalab\.gouv\.fr$", "", title, flags=re.IGNORECASE)
    elements = partition_html(text=lxml_html.tostring(tree, encoding="unicode"))
    document = _from_elements(elements, "html", title=title)
    # The service-public description paragraph repeats the introduction word for word.
    document.blocks = _drop_repeats(document.blocks)
    document.doc_date = find_date(meta.get("dc.date", "") or meta.get("date", ""))
    return document


def _drop_repeats(blocks: list[Block]) -> list[Block]:
    seen: set[str] = set()
    kept = []
    for block in blocks:
        key = " ".join(block.text.split())
        if key in seen:
            continue
        seen.add(key)
        kept.append(block)
    return kept


def load_markdown(path: Path) -> LoadedDocument:
    _unstructured_ready()
    from unstructured.partition.md import partition_md

    text = decode_text(path.read_bytes())
    front = {}
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            front[key.strip().lower()] = value.strip().strip("'\"")
        text = text[match.end() :]
    # VuePress containers (::: tip) are markup, not content.
    text = re.sub(r"^:::.*$", "", text, flags=re.MULTILINE)
    if not text.strip():
        raise DocumentError("Document Markdown sans contenu (seulement un en-tête).")
    document = _from_elements(partition_md(text=text), "md", title=front.get("title", ""))
    document.doc_date = find_date(front.get("date", ""))
    return document


def load_text(path: Path) -> LoadedDocument:
    text = _tidy(decode_text(path.read_bytes()))
    return LoadedDocument(title="", format="txt", blocks=[Block(p) for p in _paragraphs(text)])


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


LOADERS: dict[str, Callable[[Path], LoadedDocument]] = {
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
