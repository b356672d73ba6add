"""The one clock: timestamps as ISO 8601 strings in UTC, as every SQLite table and JSON file of the store keeps them."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
