"""The facts a FALC draft must keep: amounts, percentages, dates, deadlines, ages, thresholds, phone numbers,
e-mail addresses and web addresses — and nothing it may add.

Facts are compared by what they say, not how they are written: « deux mois » and « 2 mois », « 01/09/2024 » and « 1er
septembre 2024 », « 1 500 € » and « 1500 euros », « 01 23 45 67 89 » and « 01.23.45.67.89 » are the same fact.
Numbers are compared by value (a unit may move in a rewritten sentence: « de 18 à 30 ans » → « vous avez 18 ans ou
plus »); dates by day, month and year; phone numbers by their digits; addresses as written, without case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from text_to_num import alpha2digit

from sourcier.french import fold, numbers
from sourcier.personal_data import EMAIL_ADDRESS, PHONE_NUMBER

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
    "décembre",
)  # fmt: skip
_MONTH_NUMBER = {fold(month): number for number, month in enumerate(MONTHS, start=1)} | {"fevrier": 2, "aout": 8}
_MONTH = "|".join(sorted({*MONTHS, *_MONTH_NUMBER}, key=len, reverse=True))

_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]«»\"]+", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})(?![\d/]|\.\d)")
_WRITTEN_DATE = re.compile(rf"\b(?:(1er|\d{{1,2}})\s+)?({_MONTH})(?:\s+(\d{{4}}))?\b(?![\w])", re.IGNORECASE)
# « un an », « d'une semaine »: a duration, not an article (« une fois » is left alone: « une fois que… »).
_ONE_UNIT = re.compile(
    r"\b(d['’])?une?\s+(ans?|années?|mois|jours?|semaines?|heures?|minutes?|euros?|€)(?!\w)", re.IGNORECASE
)
# Small words that follow a number without saying what it counts (« de 18 à 30 ans »).
_LINKS = "(?:à|a|et|ou|de|du|des|le|la|les|au|aux|en|par|sur)"
# « 1. », « 2) » opening a line of a numbered list: an order, not a fact.
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)


class FactKind(StrEnum):
    URL = "adresse internet"
    EMAIL = "adresse électronique"
    PHONE = "numéro de téléphone"
    DATE = "date"
    NUMBER = "nombre"


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    key: str  # what is compared
    written: str  # how the text writes it, shown to the owner


def digits_for_words(text: str) -> str:
    """« deux mois » → « 2 mois », « vingt et un ans » → « 21 ans », « d'un an » → « de 1 an »; otherwise « un » and
    « une » stay words (articles)."""
    text = _ONE_UNIT.sub(lambda m: ("de " if m.group(1) else "") + "1 " + m.group(2), text)
    return alpha2digit(text, "fr", threshold=2)


def written_date(day: int | None, month: int, year: int | None) -> str:
    """1, 9, 2024 → « 1er septembre 2024 » (FALC: dates written out)."""
    parts = [] if day is None else ["1er" if day == 1 else str(day)]
    parts.append(MONTHS[month - 1])
    if year is not None:
        parts.append(str(year))
    return " ".join(parts)


def write_dates_out(text: str) -> str:
    """« 01/09/2024 » → « 1er septembre 2024 »; anything that is not a valid date is left as it is."""

    def replace(match: re.Match) -> str:
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return match.group(0)
        return written_date(day, month, year + 2000 if year < 100 else year)

    return _NUMERIC_DATE.sub(replace, text)


def without_addresses(text: str) -> str:
    """`text` with its web and e-mail addresses taken out: they are facts to keep, not words to read."""
    return EMAIL_ADDRESS.sub("", _URL.sub("", text))


def facts(text: str) -> dict[str, Fact]:
    """Every fact of `text`, by key."""
    found: dict[str, Fact] = {}

    def add(kind: FactKind, key: str, written: str) -> None:
        found.setdefault(f"{kind.name}:{key}", Fact(kind, key, written.strip()))

    def take(pattern: re.Pattern, kind: FactKind, key_of) -> None:
        nonlocal text
        for match in pattern.finditer(text):
            key = key_of(match)
            if key:
                add(kind, key, match.group(0).rstrip(".,;:!?"))
        text = pattern.sub(" ", text)

    take(_URL, FactKind.URL, _url_key)
    take(EMAIL_ADDRESS, FactKind.EMAIL, lambda m: m.group(0).lower())
    take(PHONE_NUMBER, FactKind.PHONE, lambda m: "0" + re.sub(r"\D", "", m.group(0))[-9:])
    text = write_dates_out(text)
    take(_WRITTEN_DATE, FactKind.DATE, _date_key)
    text = _LIST_NUMBER.sub(" ", digits_for_words(text))
    for value in numbers(text):
        add(FactKind.NUMBER, value, _written_number(text, value))
    return found


def _url_key(match: re.Match) -> str:
    """« https://www.Region.fr/aides/ » and « www.region.fr/aides » are the same address."""
    address = match.group(0).rstrip(".,;:!?").lower()
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", address).rstrip("/")


def _date_key(match: re.Match) -> str | None:
    day, month, year = match.group(1), _MONTH_NUMBER[fold(match.group(2).lower())], match.group(3)
    if day is None and year is None:
        return None  # « en mars », « mai » alone: a month named, not a date to keep
    day_part = "" if day is None else f"-{1 if day.lower() == '1er' else int(day):02d}"
    return f"{year or '----'}-{month:02d}{day_part}"


def _written_number(text: str, value: str) -> str:
    """The number as the text writes it, with the word after it when that says what it counts."""
    whole, _, decimals = value.partition(".")
    digits = r"[   .]?".join(whole) + (rf"[,.]{decimals}" if decimals else "")
    match = re.search(rf"(?<![\w,.]){digits}(?![\d])(?:\s*(?:€|%|(?!{_LINKS}\b)[a-zà-ÿ]+))?", text)
    return match.group(0) if match else value


@dataclass(frozen=True)
class FactCheck:
    missing: list[Fact]  # in the source, not in the draft
    invented: list[Fact]  # in the draft, not in the source

    @property
    def ok(self) -> bool:
        return not self.missing and not self.invented


def compare(source: str, draft: str) -> FactCheck:
    """Which facts of `source` the draft lost, and which it states that the source does not."""
    kept, stated = facts(source), facts(draft)
    return FactCheck(
        missing=[fact for key, fact in kept.items() if key not in stated],
        invented=[fact for key, fact in stated.items() if key not in kept],
    )
