"""Answer: rewrite the follow-up → retrieve → abstain or generate (streamed) → check citations → record gaps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser

from ingest.embed import Embedder, TextEmbedder
from ingest.live import LiveIndex
from rag.citations import CheckedSentence, check_answer
from rag.llm import Backend, llm_errors, make_backend
from rag.prompts import ABSTENTION, ANSWER, REWRITE, extract_text, format_extracts
from rag.retrieve import HybridRetriever
from sourcier.feedback import FeedbackStore
from sourcier.injection import is_suspect
from sourcier.layout import StoreLayout
from sourcier.settings import Settings


@dataclass
class Source:
    number: int
    chunk_id: str
    title: str
    path: str
    service: str
    page: int | None
    section: str | None
    excerpt: str
    score: float


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str = ""
    sentences: list[CheckedSentence] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    abstained: bool = False
    abstention_reason: str | None = None
    backend: str | None = None
    model: str | None = None
    retrieval_s: float = 0.0
    total_s: float = 0.0
    first_token_s: float | None = None

    @property
    def supported_share(self) -> float | None:
        claims = [s for s in self.sentences if not s.is_abstention]
        return sum(s.supported for s in claims) / len(claims) if claims else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["supported_share"] = self.supported_share
        return data


def to_source(number: int, document: Document) -> Source:
    meta = document.metadata
    return Source(
        number=number,
        chunk_id=document.id or meta.get("chunk_id", ""),
        title=meta.get("title", ""),
        path=meta.get("source", ""),
        service=meta.get("service", ""),
        page=meta.get("page"),
        section=meta.get("section"),
        excerpt=document.page_content,
        score=float(meta.get("score", 0.0)),
    )


def evidence_is_weak(documents: list[Document], min_dense: float, min_bm25: float) -> bool:
    """Too little evidence to let a model answer: nothing retrieved, or no passage close enough by either measure."""
    if not documents:
        return True
    best_dense = max((d.metadata.get("dense_score", 0.0) for d in documents), default=0.0)
    best_bm25 = max((d.metadata.get("bm25_score", 0.0) for d in documents), default=0.0)
    return best_dense < min_dense and best_bm25 < min_bm25


class Answerer:
    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever,
        backend: Callable[[], Backend] | Backend | None = None,
        feedback: FeedbackStore | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self._backend = backend
        self.feedback = feedback or FeedbackStore.of(StoreLayout(settings.store.path))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        embedder: TextEmbedder | None = None,
        backend: Callable[[], Backend] | Backend | None = None,
        index: LiveIndex | None = None,
    ) -> Answerer:
        retriever = HybridRetriever(
            index=index or LiveIndex.open(settings),
            embedder=embedder or Embedder(settings.embedding),
            k=settings.answer.extracts,
            mode=settings.answer.retrieval,
        )
        return cls(settings, retriever, backend)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = make_backend(self.settings)
        elif callable(self._backend) and not isinstance(self._backend, Backend):
            self._backend = self._backend()
        return self._backend

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), where: dict | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history, where):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: Sequence[tuple[str, str]] = (), where: dict | None = None
    ) -> Iterator[str | Answer]:
        """Yields the answer's text as it is generated, then the checked `Answer`."""
        started = time.perf_counter()
        question = " ".join(question.split())
        standalone = self._standalone(question, history) if history else question
        answer = Answer(question=question, standalone_question=standalone)

        documents = self.retriever.invoke(standalone, where=where)
        answer.retrieval_s = round(time.perf_counter() - started, 3)
        answer.sources = [to_source(n, d) for n, d in enumerate(documents, start=1)]
        config = self.settings.answer
        if evidence_is_weak(documents, config.min_dense_score, config.min_bm25_score):
            answer.abstained, answer.abstention_reason = True, "preuves insuffisantes dans l'index"
            answer.text = ABSTENTION
            yield ABSTENTION
            self._record_gap(answer)
            answer.total_s = round(time.perf_counter() - started, 3)
            yield answer
            return

        with llm_errors(self.settings.llm.backend):
            backend = self.backend
        answer.backend, answer.model = backend.name, backend.model
        chain = ANSWER | backend.chat | StrOutputParser()
        pieces = []
        with llm_errors(self.settings.llm.backend):
            for piece in chain.stream(
                {"extracts": format_extracts(documents, config.extract_chars), "question": standalone}
            ):
                if answer.first_token_s is None:
                    answer.first_token_s = round(time.perf_counter() - started, 3)
                pieces.append(piece)
                yield piece
        answer.text = "".join(pieces).strip()
        # Checked against what the model was shown, not the full passages.
        answer.sentences = check_answer(
            answer.text,
            [extract_text(d, config.extract_chars) for d in documents],
            suspect=[is_suspect(d.page_content) for d in documents],
        )
        if not answer.text or all(s.is_abstention for s in answer.sentences):
            answer.abstained, answer.abstention_reason = True, "le modèle n'a pas trouvé la réponse dans les extraits"
            self._record_gap(answer)
        answer.total_s = round(time.perf_counter() - started, 3)
        yield answer

    def _standalone(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        transcript = "\n".join(f"Agent : {q}\nAssistant : {a[:300]}" for q, a in history[-3:])
        # `stop` is understood by every backend (Ollama has no `max_tokens`); the rewrite is one line.
        with llm_errors(self.settings.llm.backend):
            chain = REWRITE | self.backend.chat.bind(stop=["\n"]) | StrOutputParser()
            rewritten = chain.invoke({"history": transcript, "question": question}).strip().strip('"«» ')
        return rewritten.splitlines()[0] if rewritten else question

    def _record_gap(self, answer: Answer) -> None:
        closest = [{"title": s.title, "path": s.path, "page": s.page, "score": s.score} for s in answer.sources[:3]]
        self.feedback.record_unanswered(
            answer.question, answer.standalone_question, answer.abstention_reason or "", closest
        )
