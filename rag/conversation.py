"""Conversations that lose nothing: questions answered one after the other, kept in the shared database.

A question asked while another is being answered waits its turn (a page that re-runs does not cut the answer
short: answers are written by a worker thread, not by the page). Every turn is saved as it changes, under a
conversation id the page keeps in its address, so a reload — or a restart of the server — finds the conversation
again; a turn that a restart interrupted is answered again.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, delete, func, select

from ingest.live import narrowed_to
from rag.chain import Answer, Answerer, Found, Progress, Source, Stage
from sourcier.access import Reader
from sourcier.clock import now
from sourcier.database import engine_for, put
from sourcier.settings import StoreSettings

KEEP_DAYS = 30  # a conversation untouched this long is deleted when the store is opened

_TURNS = Table(
    "conversation_turns",
    MetaData(),
    Column("conversation", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("asked_at", Text),
    Column("state", Text),
    Column("question", Text),
    Column("services", Text),
    Column("answer", Text),
    Column("error", Text),
    Column("owner", Text),
)


class TurnState(StrEnum):
    WAITING = "waiting"  # behind another question
    ANSWERING = "answering"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Turn:
    question: str
    services: list[str] = field(default_factory=list)
    state: TurnState = TurnState.WAITING
    partial: str = ""  # what the model has written so far
    stage: Stage | None = None  # what the answerer is doing, since `started` (time.monotonic)
    started: float | None = None
    found: list[Source] = field(default_factory=list)  # the extracts, shown before the answer
    answer: Answer | None = None
    error: str | None = None  # in French, for the agent
    asked_at: str = field(default_factory=now)

    @property
    def finished(self) -> bool:
        return self.state in (TurnState.DONE, TurnState.FAILED)


def new_conversation_id() -> str:
    return secrets.token_urlsafe(16)  # unguessable; and a conversation is only ever read back by its owner


def valid_conversation_id(value: str | None) -> bool:
    return bool(value) and 16 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


class ConversationStore:
    def __init__(self, engine: Engine, keep_days: int = KEEP_DAYS) -> None:
        self.engine = engine
        cutoff = (datetime.now(UTC) - timedelta(days=keep_days)).isoformat(timespec="seconds")
        stale = (
            select(_TURNS.c.conversation).group_by(_TURNS.c.conversation).having(func.max(_TURNS.c.asked_at) < cutoff)
        )
        with engine.begin() as db:
            # Questions may name people: conversations are not kept longer than they are useful.
            db.execute(delete(_TURNS).where(_TURNS.c.conversation.in_(stale)))

    @classmethod
    def of(cls, store: StoreSettings) -> ConversationStore:
        return cls(engine_for(store))

    def save(self, conversation: str, position: int, turn: Turn, owner: str) -> None:
        answer = json.dumps(turn.answer.to_dict(), ensure_ascii=False) if turn.answer else None
        values = {
            "asked_at": turn.asked_at,
            "state": turn.state.value,
            "question": turn.question,
            "services": json.dumps(turn.services),
            "answer": answer,
            "error": turn.error,
            "owner": owner,
        }
        with self.engine.begin() as db:
            put(db, _TURNS, {"conversation": conversation, "position": position}, values)

    def load(self, conversation: str, owner: str) -> list[Turn]:
        """The turns of a conversation of `owner`'s; someone else's conversation reads as empty."""
        query = (
            select(_TURNS)
            .where(_TURNS.c.conversation == conversation, _TURNS.c.owner == owner)
            .order_by(_TURNS.c.position)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return [
            Turn(
                question=row["question"],
                services=json.loads(row["services"]),
                state=TurnState(row["state"]),
                answer=Answer.from_dict(json.loads(row["answer"])) if row["answer"] else None,
                error=row["error"],
                asked_at=row["asked_at"],
            )
            for row in rows
        ]

    def owner(self, conversation: str) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(_TURNS.c.owner).where(_TURNS.c.conversation == conversation).limit(1)).scalar()

    def clear(self, conversation: str, owner: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(_TURNS).where(_TURNS.c.conversation == conversation, _TURNS.c.owner == owner))


class Conversation:
    """The turns of one conversation and the worker that answers them in order."""

    def __init__(
        self,
        conversation_id: str,
        store: ConversationStore,
        answerer: Callable[[], Answerer],
        explain: Callable[[BaseException], str],
        reader: Reader,
    ) -> None:
        self.id = conversation_id
        self.reader = reader  # whose conversation it is: questions are answered from what they may read
        self.store = store
        self._answerer = answerer
        self._explain = explain
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.turns: list[Turn] = store.load(conversation_id, reader.name)
        for turn in self.turns:
            if not turn.finished:  # interrupted by a restart: answered again
                turn.state, turn.partial = TurnState.WAITING, ""
        self._wake()

    @property
    def busy(self) -> bool:
        return any(not turn.finished for turn in self.turns)

    def ask(self, question: str, services: list[str] | None = None) -> Turn:
        turn = Turn(question=" ".join(question.split()), services=list(services or []))
        with self._lock:
            self.turns.append(turn)
            position = len(self.turns) - 1
        self.store.save(self.id, position, turn, self.reader.name)
        self._wake()
        return turn

    def clear(self) -> None:
        """Forget the conversation; a question being answered finishes, unseen."""
        with self._lock:
            self.turns = []
        self.store.clear(self.id, self.reader.name)

    def wait(self, timeout: float | None = None) -> bool:
        """Until every question is answered (tests and the CLI); False on timeout."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self.busy

    def _wake(self) -> None:
        with self._lock:
            if self.busy and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._work, name=f"conversation-{self.id[:6]}", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                turns = self.turns
                pending = next((t for t in turns if not t.finished), None)
                if pending is None:
                    self._worker = None
                    return
                position = turns.index(pending)
                # The conversation so far: what follow-ups are searched with.
                history = [
                    (t.answer.question, t.answer.text)
                    for t in turns[:position]
                    if t.state is TurnState.DONE and t.answer
                ]
            self._answer(pending, position, history, turns)

    def _answer(self, turn: Turn, position: int, history: list[tuple[str, str]], turns: list[Turn]) -> None:
        turn.state, turn.started = TurnState.ANSWERING, time.monotonic()
        where = narrowed_to(turn.services)
        try:
            for event in self._answerer().stream(turn.question, history, where, reader=self.reader):
                if isinstance(event, Answer):
                    turn.answer = event
                elif isinstance(event, Progress):
                    turn.stage = event.stage
                elif isinstance(event, Found):
                    turn.found = event.sources
                else:
                    turn.partial += event
            turn.state = TurnState.DONE
        except Exception as error:  # said in French on the page; details in the server log
            turn.error = self._explain(error)
            turn.answer = turn.answer or Answer(question=turn.question, standalone_question=turn.question)
            turn.state = TurnState.FAILED
        if turns is self.turns:  # not cleared meanwhile
            self.store.save(self.id, position, turn, self.reader.name)
