"""What every page shares: settings, models and connections made once per process, and errors put in French."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import streamlit as st

from ingest.embed import Embedder
from ingest.live import LiveDocuments, LiveIndex, index_stamp, read_live_documents
from rag.chain import Answerer
from rag.conversation import Conversation, ConversationStore, new_conversation_id
from rag.llm import Backend, make_backend
from sourcier import layout
from sourcier.access import Reader
from sourcier.errors import SourcierError
from sourcier.feedback import FeedbackStore
from sourcier.settings import Settings, load_settings

log = logging.getLogger("sourcier.ui")


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner="Chargement du modèle d'indexation…")
def embedder() -> Embedder:
    return Embedder(settings().embedding)


@st.cache_resource(show_spinner="Connexion au modèle de langage…")
def llm_backend() -> Backend:
    return make_backend(settings())


@st.cache_resource(max_entries=1, show_spinner=False)
def _answerer(stamp: tuple[str, str]) -> Answerer:
    # The LLM is connected on first need: an abstention never waits for it. The index is read afresh: an ingestion
    # (another process) changed it.
    index = LiveIndex.open(settings(), fresh=True)
    return Answerer.from_settings(settings(), embedder(), backend=llm_backend, index=index)


def answerer() -> Answerer:
    """Rebuilt only when an ingestion changed the index (new collection or new lexical index)."""
    return _answerer(index_stamp(settings()))


class _Conversations:
    """Every conversation of this server process, by id: a reload of the page finds its conversation — and the
    worker still answering it — again; after a restart it is read back from the store."""

    LIMIT = 200  # conversations kept in memory; idle ones beyond are dropped (they stay in the store)

    def __init__(self) -> None:
        self._open: dict[str, Conversation] = {}
        self._lock = threading.Lock()
        self._store = ConversationStore.of(settings().store)

    def get(self, conversation_id: str, reader: Reader) -> Conversation:
        """`reader`'s conversation of that id; someone else's id opens a new conversation (another id), never
        theirs; a change of rights applies from the next question."""
        with self._lock:
            if self._store.owner(conversation_id) not in (None, reader.name):
                conversation_id = new_conversation_id()
            conversation = self._open.pop(conversation_id, None)
            # Someone else's, or the same user's with other rights and idle: opened again for this reader.
            if (
                conversation is not None
                and conversation.reader != reader
                and (conversation.reader.name != reader.name or not conversation.busy)
            ):
                conversation = None
            if conversation is None:
                conversation = Conversation(conversation_id, self._store, answerer, explain, reader)
            self._open[conversation_id] = conversation  # most recent last
            idle = [key for key, open_ in self._open.items() if not open_.busy]
            for key in idle[: max(0, len(self._open) - self.LIMIT)]:
                del self._open[key]
            return conversation


@st.cache_resource
def conversations() -> _Conversations:
    return _Conversations()


def feedback_store() -> FeedbackStore:
    return FeedbackStore.for_settings(settings())


def live_documents() -> LiveDocuments:
    """The live collection, its documents and the exclusions (read fresh: an ingestion may be writing)."""
    return read_live_documents(settings())


@st.cache_data(ttl=30, max_entries=500, show_spinner=False)
def readable_documents(reader: Reader, stamp: tuple[str, str]) -> dict[str, int]:
    """doc_id → chunks `reader` may read; counted again after an ingestion, at most every 30 s otherwise (the chat
    page shows it on every run, and for a non-admin it means reading the chunks)."""
    return dict(live_index(reader).counts_per_document())


def live_index(reader: Reader) -> LiveIndex:
    """The live index as `reader` may read it (the one place rights are enforced)."""
    return answerer().retriever.index.for_reader(reader)


def readable_file(reader: Reader, relative_path: str) -> Path | None:
    """The file a citation points to, if `reader` may read that document and it is still inside the corpus."""
    if not live_index(reader).may_read_document(relative_path):
        return None
    return corpus_file(relative_path)


def corpus_file(relative_path: str) -> Path | None:
    """The file a citation points to, if it is still inside the corpus."""
    return layout.corpus_file(settings().corpus_dir, relative_path)


def explain(error: BaseException) -> str:
    """A message an agent can act on; the details go to the server log, never to the screen."""
    if isinstance(error, SourcierError):  # the message says who must act and how
        return str(error)
    log.exception("Unexpected error in the app", exc_info=error)
    return "Une erreur inattendue est survenue. Elle est consignée dans le journal du serveur ; réessayez."


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|$~])")


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def without_links(text: str) -> str:
    """Document text (a title, a path) in a Streamlit label or caption, which render Markdown: brackets escaped, so
    that no link or remote image can be written with it; everything else left as it reads."""
    return text.replace("[", "\\[").replace("]", "\\]")
