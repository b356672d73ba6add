"""Conversations lose no question: answered in order by a worker, saved as they change, found again after a reload
or a restart (fast tier, scripted LLM; the page is tested with the real components in tests/test_app.py)."""

import threading

from sqlalchemy import text

from rag.chain import Answerer
from rag.conversation import Conversation, ConversationStore, TurnState
from rag.retrieve import HybridRetriever
from sourcier.errors import LLMUnavailableError
from tests.fakes import SYSTEM, HashingEmbedder, scripted_backend
from tests.unit.indexes import build

EMBEDDER = HashingEmbedder()
FIRST = "Quel justificatif de domicile pour s'inscrire sur la liste électorale ?"
SECOND = "Et pour un étudiant ?"


def setting_up(tmp_path, *replies, fail_with=None, gate: threading.Event | None = None):
    settings, index, _ = build(tmp_path, EMBEDDER)
    backend = scripted_backend(*replies, fail_with=fail_with)
    answerer = Answerer(settings, HybridRetriever(index=index, embedder=EMBEDDER, k=4), backend)

    def slow_answerer() -> Answerer:
        if gate is not None:
            gate.wait(10)  # the first answer is still being written when the second question comes
        return answerer

    store = ConversationStore.of(settings.store)
    return store, slow_answerer, backend.chat


def explain(error: BaseException) -> str:
    return f"Le modèle de langage ne répond pas ({type(error).__name__})."


def test_a_question_asked_while_another_is_answered_waits_its_turn(tmp_path):
    gate = threading.Event()
    store, answerer, chat = setting_up(
        tmp_path,
        "Un justificatif de domicile de moins de 3 mois [1].",
        "Une attestation de l'hébergeant [1].",
        gate=gate,
    )
    conversation = Conversation("conversation-de-test-1", store, answerer, explain, SYSTEM)
    first = conversation.ask(FIRST)
    second = conversation.ask(SECOND)
    assert second.state is TurnState.WAITING and conversation.busy
    gate.set()
    assert conversation.wait(30)
    assert [t.state for t in conversation.turns] == [TurnState.DONE, TurnState.DONE]
    assert first.answer.text.startswith("Un justificatif") and second.answer.text.startswith("Une attestation")
    # The follow-up was searched with the question it follows, once that one was answered.
    assert second.answer.standalone_question == f"{FIRST} {SECOND}"
    assert len(chat.prompts) == 2


def test_a_reload_or_a_restart_finds_the_conversation_again(tmp_path):
    store, answerer, _ = setting_up(tmp_path, "Un justificatif de domicile de moins de 3 mois [1].")
    conversation = Conversation("conversation-de-test-2", store, answerer, explain, SYSTEM)
    conversation.ask(FIRST, services=["elections"])
    assert conversation.wait(30)
    again = Conversation("conversation-de-test-2", store, answerer, explain, SYSTEM)
    (turn,) = again.turns
    assert turn.state is TurnState.DONE and turn.services == ["elections"]
    assert turn.answer.text == conversation.turns[0].answer.text
    assert turn.answer.sources[0].path == conversation.turns[0].answer.sources[0].path
    assert [s.supported for s in turn.answer.sentences] == [s.supported for s in conversation.turns[0].answer.sentences]
    assert Conversation("une-autre-conversation", store, answerer, explain, SYSTEM).turns == []


def test_a_question_a_restart_interrupted_is_answered_again(tmp_path):
    store, answerer, chat = setting_up(tmp_path, "Un justificatif de domicile de moins de 3 mois [1].")
    stopped = Conversation("conversation-de-test-3", store, lambda: (_ for _ in ()).throw(SystemExit), explain, SYSTEM)
    stopped._wake = lambda: None  # the server stops before its worker starts
    stopped.ask(FIRST)
    restarted = Conversation("conversation-de-test-3", store, answerer, explain, SYSTEM)
    assert restarted.wait(30) and restarted.turns[0].state is TurnState.DONE and len(chat.prompts) == 1


def test_a_failure_is_kept_with_its_french_explanation(tmp_path):
    store, answerer, _ = setting_up(tmp_path, "x", fail_with=LLMUnavailableError)
    conversation = Conversation("conversation-de-test-4", store, answerer, explain, SYSTEM)
    turn = conversation.ask(FIRST)
    assert conversation.wait(30) and turn.state is TurnState.FAILED
    assert turn.error.startswith("Le modèle de langage ne répond pas")
    conversation.clear()
    assert Conversation("conversation-de-test-4", store, answerer, explain, SYSTEM).turns == []


def test_conversations_untouched_for_a_month_are_deleted(tmp_path):
    store, answerer, _ = setting_up(tmp_path, "Un justificatif de domicile de moins de 3 mois [1].")
    old = Conversation("conversation-ancienne-1", store, answerer, explain, SYSTEM)
    old.ask(FIRST)
    assert old.wait(30)
    with store.engine.begin() as db:
        db.execute(text("UPDATE conversation_turns SET asked_at = '2020-01-01T00:00:00+00:00'"))
    recent = Conversation("conversation-recente-1", store, answerer, explain, SYSTEM)
    recent.ask(FIRST)
    assert recent.wait(30)
    reopened = ConversationStore(store.engine)
    assert (
        reopened.load("conversation-ancienne-1", SYSTEM.name) == []
        and len(reopened.load("conversation-recente-1", SYSTEM.name)) == 1
    )
