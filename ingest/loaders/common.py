"""What the loaders share: one-line reasons, whitespace tidying, paragraphs, page lists."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadOptions:
    max_file_mb: float = 100
    ocr: bool = True  # read pages without text with Tesseract, when it is installed


def one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tidy(text: str) -> str:
    text = text.replace("\x00", "").replace("\u00ad", "")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"-\n(?=[a-zà-ÿ])", "", text)  # words hyphenated across lines
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def paragraphs(text: str) -> Iterable[str]:
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if paragraph:
            yield paragraph
