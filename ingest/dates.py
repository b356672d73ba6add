"""Find the date a document speaks of (séance, publication, modification), French formats first."""

from __future__ import annotations

import re
from datetime import date

MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "février": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "août": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
    "décembre": 12,
}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_WRITTEN = re.compile(rf"\b(1er|\d{{1,2}})[\s_-]+({_MONTH_NAMES})[\s_-]+(\d{{4}})\b", re.IGNORECASE)
_ISO = re.compile(r"(?<!\d)(\d{4})[-_.](\d{2})[-_.](\d{2})(?!\d)")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[-_./](\d{1,2})[-_./](\d{4})(?!\d)")
_COMPACT = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(\d{2})(\d{2})(?!\d)")
_COMPACT_DMY = re.compile(r"(?<!\d)(\d{2})(\d{2})(20\d{2})(?!\d)")


def _valid(year: int, month: int, day: int) -> date | None:
    if not 1980 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def find_date(text: str) -> date | None:
    """The first plausible date in `text` (a file name, a title or the start of a document)."""
    candidates: list[tuple[int, date]] = []
    for match in _WRITTEN.finditer(text):
        day = 1 if match.group(1).lower() == "1er" else int(match.group(1))
        found = _valid(int(match.group(3)), MONTHS[match.group(2).lower()], day)
        if found:
            candidates.append((match.start(), found))
    for pattern, order in ((_ISO, "ymd"), (_NUMERIC, "dmy"), (_COMPACT, "ymd"), (_COMPACT_DMY, "dmy")):
        for match in pattern.finditer(text):
            a, b, c = (int(group) for group in match.groups())
            found = _valid(a, b, c) if order == "ymd" else _valid(c, b, a)
            if found:
                candidates.append((match.start(), found))
    return min(candidates, key=lambda candidate: candidate[0])[1] if candidates else None
