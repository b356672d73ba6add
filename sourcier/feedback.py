"""What users tell document owners, kept in the shared database (`sourcier.database`): the questions the assistant
could not answer (coverage gaps) and the thumbs up/down given to answers, with the chunks those answers cited.

Questions and comments may name people: what people typed is kept masked (`mask_for_keeping`: identifiers and
names), and every row is deleted after `quality.feedback_retention_days` (RGPD: a retention period, purged)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, delete, insert, select, update

from sourcier.clock import now
from sourcier.database import engine_for
from sourcier.personal_data import mask, mask_for_keeping
from sourcier.settings import Settings, StoreSettings

_METADATA = MetaData()
_UNANSWERED = Table(
    "unanswered",
    _METADATA,
    Column("id", Integer, primary_key=True),
    Column("asked_at", Text),
    Column("question", Text),
    Column("standalone_question", Text),
    Column("reason", Text),
    Column("closest", Text),
)
_FEEDBACK = Table(
    "feedback",
    _METADATA,
    Column("id", Integer, primary_key=True),
    Column("given_at", Text),
    Column("rating", Integer),
    Column("comment", Text),
    Column("question", Text),
    Column("answer", Text),
    Column("cited_chunks", Text),
    Column("backend", Text),
    Column("model", Text),
)


class FeedbackStore:
    def __init__(self, engine: Engine, retention_days: int = 365) -> None:
        self.engine = engine
        self.retention_days = retention_days

    @classmethod
    def of(cls, store: StoreSettings, retention_days: int = 365) -> FeedbackStore:
        return cls(engine_for(store), retention_days)

    @classmethod
    def for_settings(cls, settings: Settings) -> FeedbackStore:
        return cls.of(settings.store, settings.quality.feedback_retention_days)

    def purge(self) -> int:
        """Delete what is older than the retention period; returns how many rows."""
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        with self.engine.begin() as db:
            gone = db.execute(delete(_UNANSWERED).where(_UNANSWERED.c.asked_at < cutoff)).rowcount
            return gone + db.execute(delete(_FEEDBACK).where(_FEEDBACK.c.given_at < cutoff)).rowcount

    def record_unanswered(self, question: str, standalone: str, reason: str, closest: list[dict]) -> None:
        self.purge()
        with self.engine.begin() as db:
            db.execute(
                insert(_UNANSWERED).values(
                    asked_at=now(),
                    question=mask_for_keeping(question),
                    standalone_question=mask_for_keeping(standalone),
                    reason=reason,
                    closest=json.dumps(closest, ensure_ascii=False),
                )
            )

    def unanswered(self) -> list[dict]:
        self.purge()
        with self.engine.connect() as db:
            rows = db.execute(select(_UNANSWERED).order_by(_UNANSWERED.c.asked_at.desc())).mappings().all()
        return [{**row, "closest": json.loads(row["closest"] or "[]")} for row in rows]

    def record_feedback(
        self,
        rating: int,
        question: str,
        answer: str,
        cited_chunks: list[str],
        comment: str | None = None,
        backend: str | None = None,
        model: str | None = None,
    ) -> int:
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 (utile) or -1 (pas utile)")
        self.purge()
        with self.engine.begin() as db:
            result = db.execute(
                insert(_FEEDBACK).values(
                    given_at=now(),
                    rating=rating,
                    comment=mask_for_keeping((comment or "").strip()) or None,
                    question=mask_for_keeping(question),
                    answer=mask(answer),
                    cited_chunks=json.dumps(cited_chunks),
                    backend=backend,
                    model=model,
                )
            )
            return int(result.inserted_primary_key[0])

    def update_comment(self, feedback_id: int, comment: str) -> None:
        with self.engine.begin() as db:
            masked = mask_for_keeping(comment.strip()) or None
            db.execute(update(_FEEDBACK).where(_FEEDBACK.c.id == feedback_id).values(comment=masked))

    def feedback(self) -> list[dict]:
        self.purge()
        with self.engine.connect() as db:
            query = select(_FEEDBACK).order_by(_FEEDBACK.c.given_at.desc(), _FEEDBACK.c.id.desc())
            rows = db.execute(query).mappings().all()
        return [{**row, "cited_chunks": json.loads(row["cited_chunks"])} for row in rows]
