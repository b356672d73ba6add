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
MAX_RENDER_PIXELS = 14_000  # an A0 plan at 300 dpi; a larger page is rendered smaller
MIN_SCALE = 100 / 72  # under 100 dpi Tesseract reads nothing: a page that large is not rendered at all


@functools.cache
def available() -> bool:
    if not shutil.which("tesseract"):
        return False
    import pytesseract

    try:
        return LANGUAGE in pytesseract.get_languages(config="")
    except Exception:  # a broken install is the same as none
        return False


def read_pages(path: Path, pages: list[int], deadline: float | None = None) -> tuple[dict[int, str], list[int]]:
    """Text of the given 1-based pages, until `deadline` (time.monotonic()), and the pages that could not be read
    (damaged, or too large to render); a page not reached in time is in neither (its absence is reported
    upstream as the OCR limit)."""
    import pypdfium2
    import pytesseract

    texts: dict[int, str] = {}
    failed: list[int] = []
    document = pypdfium2.PdfDocument(path)
    try:
        for number in pages:
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                page = document[number - 1]
                width, height = page.get_size()
                if max(width, height) * MIN_SCALE > MAX_RENDER_PIXELS:
                    raise ValueError(f"page of {width:.0f} x {height:.0f} pt")
                # A plan or a poster is rendered smaller, within the pixels a page may take.
                scale = min(RENDER_SCALE, MAX_RENDER_PIXELS / max(width, height, 1))
                image = page.render(scale=scale, grayscale=True).to_pil()
                texts[number] = pytesseract.image_to_string(image, lang=LANGUAGE)
            except Exception as exc:
                log.warning("OCR failed on %s page %d: %s", path, number, exc)
                failed.append(number)
    finally:
        document.close()
    return texts, failed
