"""OCR of PDF pages that have no text layer (scans), with Tesseract's French model when it is installed.

Pages are rendered by pdfium and read by Tesseract; both run locally. Without Tesseract a scan stays "not
searchable" and the quality report says so.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)
LANGUAGE = "fra"
RENDER_SCALE = 300 / 72  # 300 dpi: below it Tesseract's French accuracy drops on typed minutes


@functools.cache
def available() -> bool:
    if not shutil.which("tesseract"):
        return False
    import pytesseract

    try:
        return LANGUAGE in pytesseract.get_languages(config="")
    except Exception:  # a broken install is the same as none
        return False


def read_pages(path: Path, pages: list[int], deadline: float | None = None) -> dict[int, str]:
    """Text of the given 1-based pages, until `deadline` (time.monotonic()); a page that fails or is not reached
    in time is left out (its absence is reported upstream)."""
    import pypdfium2
    import pytesseract

    texts: dict[int, str] = {}
    document = pypdfium2.PdfDocument(path)
    try:
        for number in pages:
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                image = document[number - 1].render(scale=RENDER_SCALE, grayscale=True).to_pil()
                texts[number] = pytesseract.image_to_string(image, lang=LANGUAGE)
            except Exception as exc:
                log.warning("OCR failed on %s page %d: %s", path, number, exc)
    finally:
        document.close()
    return texts
