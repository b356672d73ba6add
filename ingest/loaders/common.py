"""What the loaders share: one-line reasons, whitespace tidying, paragraphs, page lists."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadOptions:
    """What a loader may spend on one file (see `IngestSettings`)."""

    max_file_mb: float = 100
    ocr: bool = True  # read pages without text with Tesseract, when it is installed
    max_pages: int = 3000
    max_ocr_pages: int = 100
    max_ocr_seconds: float = 600
    max_unpacked_mb: float = 500
    max_archive_members: int = 10_000
    parse_timeout_s: float = 120
    parse_memory_mb: int = 2500


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


LONG_LINE = 20_000  # characters: parsers (lxml text nodes, Markdown) lose or refuse far longer lines


def break_long_lines(text: str, limit: int = LONG_LINE, separator: str = "\n") -> tuple[str, int]:
    """Lines longer than `limit` broken at a space (or anywhere, for a run without any) with `separator`, and how
    many were broken: a one-line export of several megabytes is then read like any other text, not dropped."""
    if len(text) <= limit or all(len(line) <= limit for line in text.split("\n")):
        return text, 0
    broken = 0
    lines = []
    for line in text.split("\n"):
        if len(line) <= limit:
            lines.append(line)
            continue
        broken += 1
        while len(line) > limit:
            cut = line.rfind(" ", limit // 2, limit)
            cut = cut if cut > 0 else limit
            lines.append(line[:cut] + separator[1:])
            line = line[cut:].lstrip(" ")
        lines.append(line)
    return "\n".join(lines), broken
