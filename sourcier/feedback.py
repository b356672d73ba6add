"""What users tell document owners, kept in the shared database (`sourcier.database`): the questions the assistant
could not answer (coverage gaps) and the thumbs up/down given to answers, with the chunks those answers cited."""

from __future__ import annotations

import json

from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, insert, select, update

from sourcier.clock import now
from sourcier.database import engine_for
from sourcier.settings import StoreSettings

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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, store: StoreSettings) -> FeedbackStore:
        return cls(engine_for(store))

    def record_unanswered(self, question: str, standalone: str, reason: str, closest: list[dict]) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(_UNANSWERED).values(
                    asked_at=now(),
                    question=question,
                    standalone_question=standalone,
                    reason=reason,
                    closest=json.dumps(closest, ensure_ascii=False),
                )
            )

    def unanswered(self) -> list[dict]:
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
        with self.engine.begin() as db:
            result = db.execute(
                insert(_FEEDBACK).values(
                    given_at=now(),
                    rating=rating,
                    comment=(comment or "").strip() or None,
                    question=question,
                    answer=answer,
                    cited_chunks=json.dumps(cited_chunks),
                    backend=backend,
                    model=model,
                )
            )
            return int(result.inserted_primary_key[0])

    def update_comment(self, feedback_id: int, comment: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(_FEEDBACK).where(_FEEDBACK.c.id == feedback_id).values(comment=comment.strip() or None))

    def feedback(self) -> list[dict]:
        with self.engine.connect() as db:
            query = select(_FEEDBACK).order_by(_FEEDBACK.c.given_at.desc(), _FEEDBACK.c.id.desc())
            rows = db.execute(query).mappings().all()
        return [{**row, "cited_chunks": json.loads(row["cited_chunks"])} for row in rows]
