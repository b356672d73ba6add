"""Answer: read the question → retrieve → show the extracts → assess the evidence → abstain, or generate from the
sentences that bear on the question (streamed) → check citations → record gaps. No model call before generation:
a follow-up is searched with the question it follows.

`Answerer.stream` says what it is doing as it goes (`Progress`), shows the extracts as soon as retrieval is done
(`Found`: well under 2 s, while the model needs seconds more), then the answer's text as it is written, then the
checked `Answer`."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate

from ingest.embed import Embedder, TextEmbedder
from ingest.live import LiveIndex
from rag.citations import CheckedSentence, check_answer, only_refuses, split_sentences, states_nothing
from rag.evidence import Verdict, assess
from rag.extracts import Extract, select
from rag.llm import Backend, llm_errors, make_backend
from rag.prompts import ABSTENTION, answer_prompt, format_extracts, rewrite_prompt, shown_text
from rag.question import lack_sentence, retrieval_query
from rag.repeats import RepeatGuard
from rag.retrieve import HybridRetriever, standing_out
from sourcier.access import Reader
from sourcier.audit import AuditKind, AuditLog
from sourcier.feedback import FeedbackStore
from sourcier.injection import is_suspect
from sourcier.settings import LLMBackendKind, Settings


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
    highlights: list[str] = field(default_factory=list)  # its sentences that bear on the question
    shown: str = ""  # what the model read of it (empty: nothing)


class Stage(StrEnum):
    SEARCHING = "recherche dans les documents"
    STARTING = "préparation du modèle de langage"  # the embedded server starts if it is not running
    READING = "lecture des passages"
    WRITING = "rédaction de la réponse"
    REWRITING = "nouvelle rédaction (la première ne disait rien)"
    READING_ALL = "nouvelle lecture, de tous les passages (ceux retenus d'abord n'ont pas suffi au modèle)"


@dataclass(frozen=True)
class Progress:
    stage: Stage
    elapsed_s: float


@dataclass(frozen=True)
class Found:
    """The extracts, shown before the answer (they are not the answer)."""

    sources: list[Source]
    elapsed_s: float


Event = str | Progress | Found  # and last, the `Answer`


@dataclass
class Answer:
    question: str
    standalone_question: str  # what was searched: a follow-up with the question it follows
    text: str = ""
    sentences: list[CheckedSentence] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    abstained: bool = False
    abstention_reason: str | None = None
    verdict: Verdict | None = None
    evidence: float | None = None  # probability that the passages are about the question
    backend: str | None = None
    model: str | None = None
    retrieval_s: float = 0.0
    total_s: float = 0.0
    first_useful_s: float | None = None  # the extracts on screen
    first_token_s: float | None = None
    withheld: list[str] = field(default_factory=list)  # why sentences the model wrote are not shown (French)

    @property
    def cited(self) -> list[int]:
        """The numbers of the sources its sentences cite, in order."""
        return sorted({n for sentence in self.sentences for n in sentence.sources})

    @property
    def cited_sources(self) -> list[Source]:
        cited = set(self.cited)
        return [source for source in self.sources if source.number in cited]

    @property
    def supported_share(self) -> float | None:
        claims = [s for s in self.sentences if not s.is_abstention]
        return sum(s.supported for s in claims) / len(claims) if claims else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["supported_share"] = self.supported_share
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Answer:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["sentences"] = [CheckedSentence(**s) for s in data.get("sentences", [])]
        fields["sources"] = [Source(**s) for s in data.get("sources", [])]
        fields["verdict"] = Verdict(data["verdict"]) if data.get("verdict") else None
        return cls(**fields)


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?:[^)]*)\)")
WITHHELD = (
    "Une phrase de la réponse a été retirée : elle demandait d'agir (payer, écrire, appeler, ouvrir un lien, donner "
    "un identifiant) sur la seule foi d'un extrait dont le document contient du texte adressé à une IA (le document "
    "est signalé à son propriétaire)."
)


def without_remote_media(text: str) -> str:
    """An answer never makes a client fetch or open what a document supplied: images are removed (a Markdown image
    whose address carries the question is a way out for it) and links keep only their words."""
    return _LINK.sub(r"\1", _IMAGE.sub("", text))


# What a planted sentence wants an agent to act on: pay, send bank details or credentials, write to an address,
# call a number, open a link.
_ACTIONABLE = re.compile(
    r"https?://|www\.|\w@\w|\b(?:iban|bic|rib|virements?|payer|paiements?|payants?|réglez|régler|mots? de passe|"
    r"identifiants?|login|codes? d'accès|carte bancaire|coordonnées bancaires)\b|\bFR\d{2}[ ]?\d{4}"
    r"|(?<!\d)0\d(?:[ .]?\d{2}){4}(?!\d)",
    re.IGNORECASE,
)


def withhold_suspect_sentences(answer: Answer) -> None:
    """A sentence that asks the agent to act — pay, give bank details or a password, write, call, open a link — and
    rests only on extracts holding text addressed to an AI is not shown as an answer: one planted extract is not
    evidence. (Other sentences resting on such an extract stay, flagged: the document's other text is ordinary.)"""
    suspect = [s for s in answer.sentences if s.suspect_only and _ACTIONABLE.search(s.text)]
    if not suspect:
        return

    def words(text: str) -> str:  # the check moves markers and stops: compared without them
        return re.sub(r"\[\d+\]|\W", "", text).lower()

    withheld = {words(s.text) for s in suspect}
    lines = []
    for line in answer.text.splitlines():
        sentences = split_sentences(line)
        kept = [sentence for sentence in sentences if words(sentence) not in withheld]
        if len(kept) == len(sentences):
            lines.append(line)
        elif kept:
            lines.append(" ".join(kept))
    answer.text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    answer.sentences = [s for s in answer.sentences if words(s.text) not in withheld]
    answer.withheld = [WITHHELD] * len(suspect)


def to_source(number: int, document: Document, extract: Extract | None = None) -> Source:
    meta = document.metadata
    return Source(
        highlights=extract.highlights if extract else [],
        shown=extract.text if extract and extract.shown else "",
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


@dataclass(frozen=True)
class _Writing:
    """What one answer's model calls share: the backend, the prompt's inputs, the answer they fill, its clock, and
    whether the text is streamed (not when an extract is suspect)."""

    backend: Backend
    inputs: dict
    answer: Answer
    elapsed: Callable[[], float]
    stream: bool


class Answerer:
    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever,
        backend: Callable[[], Backend] | Backend | None = None,
        feedback: FeedbackStore | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self._backend = backend
        self.feedback = feedback or FeedbackStore.for_settings(settings)
        self.audit = audit or AuditLog.for_settings(settings)

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
            if self._backend.name == LLMBackendKind.EMBEDDED:
                threading.Thread(target=self._compute_the_fixed_prefix, name="llm-warm-up", daemon=True).start()
        elif callable(self._backend) and not isinstance(self._backend, Backend):
            self._backend = self._backend()
        return self._backend

    def _compute_the_fixed_prefix(self) -> None:
        """Every prompt opens with the same system prompt; llama.cpp keeps what it computed of the last prompt and
        reuses its longest common prefix. Computed once as the model starts, it is not paid again — not even by the
        first question (measured: see README, speed)."""
        assert isinstance(self._backend, Backend)
        messages = answer_prompt().format_messages(question="", extracts="")
        with contextlib.suppress(Exception):  # only an optimisation: a failure shows on the first real question
            self._backend.chat.invoke([messages[0], HumanMessage("Question :")], max_tokens=1)

    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for — the embedding model, the lexical index, the
        French parser of the citation check (measured: 15 s for a cold first answer, 1.3 s warm): a server calls it
        before it accepts connections."""
        self.retriever.invoke("amorce", reader=Reader.system("préchauffage"))
        check_answer("Le délai est de 3 mois [1].", ["Le délai est de 3 mois pour déposer le dossier."])

    def ask(
        self, question: str, history: Sequence[tuple[str, str]] = (), where: dict | None = None, *, reader: Reader
    ) -> Answer:
        answer = None
        for event in self.stream(question, history, where, reader=reader):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: Sequence[tuple[str, str]] = (), where: dict | None = None, *, reader: Reader
    ) -> Iterator[Event | Answer]:
        """Yields `Progress` and the `Found` extracts, the answer's text as it is generated, then the checked
        `Answer`: only from what `reader` may read. The question is written to the audit trail (masked) with what
        was retrieved and cited."""
        answered = False
        try:
            for event in self._stream(question, history, where, reader):
                if isinstance(event, Answer):
                    answered = True
                    self._audit(event, reader)
                yield event
        finally:
            if not answered:  # failed (LLM unreachable…) or abandoned: the question was still asked
                self.audit.record(AuditKind.QUESTION, reader, question=question, failed=True)

    def _stream(
        self, question: str, history: Sequence[tuple[str, str]], where: dict | None, reader: Reader
    ) -> Iterator[Event | Answer]:
        started = time.perf_counter()

        def elapsed() -> float:
            return round(time.perf_counter() - started, 3)

        yield Progress(Stage.SEARCHING, 0.0)
        question = " ".join(question.split())
        searched = retrieval_query(question, history)
        answer = Answer(question=question, standalone_question=searched)

        documents = self.retriever.invoke(searched, where=where, reader=reader)
        answer.retrieval_s = elapsed()
        assessment = assess(question, documents, searched=searched)
        answer.verdict, answer.evidence = assessment.verdict, assessment.probability
        abstain = assessment.verdict is Verdict.ABSTAIN
        focus = f"{question} {searched}" if searched != question else question
        budget = self.settings.answer.context_tokens
        # The model reads the passages that stand out (given four, it listed one item per passage, relevant or not);
        # all of them if those do not answer it for the model.
        read = standing_out(documents)
        # On screen at once: what the extracts say about the question (the token count is estimated here; the
        # model's own tokenizer decides below what it reads).
        found = select(focus, read, budget)
        answer.sources = [to_source(e.number, e.document, e) for e in found]
        answer.first_useful_s = elapsed()
        yield Found(answer.sources, answer.first_useful_s)
        lack = lack_sentence(assessment.missing) if assessment.missing else ""
        if abstain:
            answer.abstained, answer.abstention_reason = True, "preuves insuffisantes dans l'index"
            answer.text = f"{lack} {ABSTENTION}".strip()
            answer.sentences = check_answer(answer.text, [])
            yield answer.text
            self._record_gap(answer, where)
            answer.total_s = elapsed()
            yield answer
            return

        if not isinstance(self._backend, Backend):  # made (the embedded server started) on first use
            yield Progress(Stage.STARTING, elapsed())
        with llm_errors(self.settings.llm.backend):
            backend = self.backend
        yield Progress(Stage.READING, elapsed())
        extracts = select(focus, read, budget, backend.count_tokens)
        answer.sources = [to_source(e.number, e.document, e) for e in extracts]
        answer.backend, answer.model = backend.name, backend.model
        prompt = answer_prompt(general_rule=assessment.verdict is Verdict.GENERAL_RULE)
        # An extract holding text addressed to an AI: nothing is streamed, the answer is shown once checked (a
        # sentence that relays only that extract must never reach the screen, even for a moment).
        suspect = {id(d): is_suspect(d.page_content) for d in documents}  # read once: the check costs a parse
        stream = not any(suspect.values())
        opening = f"{lack}\n\n" if lack else ""
        if opening and stream:
            yield opening
        inputs = {
            "extracts": format_extracts(extracts),
            "question": question if searched == question else f"{question} (à propos de : {searched})",
            "missing": ", ".join(s.text for s in assessment.missing),
        }
        writing = _Writing(backend, inputs, answer, elapsed, stream)
        written = yield from self._state_something(prompt, writing)
        if only_refuses(written) and len(read) < len(documents) and assessment.verdict is Verdict.ANSWER:
            # Given one passage that answers it, the 1.5B model sometimes refuses (2 FAQ questions of 25, every run);
            # the evidence said the passages are about the question: it reads them all. The answer is the second
            # text, with its sources.
            yield Progress(Stage.READING_ALL, elapsed())
            if stream:
                yield "\n\n"
            read = documents
            extracts = select(focus, read, budget, backend.count_tokens)
            answer.sources = [to_source(e.number, e.document, e) for e in extracts]
            inputs["extracts"] = format_extracts(extracts)
            written = yield from self._state_something(prompt, writing)
        answer.text = without_remote_media(opening + written).strip()
        # Checked against what the model was shown (title included), not the full passages.
        answer.sentences = check_answer(
            answer.text,
            [shown_text(source.title, source.shown) for source in answer.sources],
            suspect=[suspect[id(d)] for d in read],
        )
        withhold_suspect_sentences(answer)
        if not stream:
            yield answer.text
        if not answer.text or all(s.is_abstention for s in answer.sentences):
            answer.abstained = True
            answer.abstention_reason = (
                "la seule réponse écrite reposait sur un extrait suspect"
                if answer.withheld
                else "le modèle n'a pas trouvé la réponse dans les extraits"
            )
            self._record_gap(answer, where)
        answer.total_s = elapsed()
        yield answer

    def _state_something(self, prompt: ChatPromptTemplate, writing: _Writing) -> Generator[Progress | str, None, str]:
        """What the model writes for `prompt`; asked once more, for sentences, when that states nothing (the answer
        is then the second text). A reply of markers alone was never streamed; one that gave the question back was,
        and stays on screen above the second."""
        written, shown = yield from self._write(prompt, writing)
        if states_nothing(written):
            yield Progress(Stage.REWRITING, writing.elapsed())
            if shown:
                yield "\n\n"
            written, _ = yield from self._write(rewrite_prompt(prompt, written), writing)
        return written

    def _write(
        self, prompt: ChatPromptTemplate, writing: _Writing
    ) -> Generator[Progress | str, None, tuple[str, bool]]:
        """Streams what the model writes for `prompt`, held back while it states nothing (« - [1] », then a word
        shows it all: no delay for an answer) and while a line reads like the start of an earlier one; a line written
        again ends the answer (`RepeatGuard`). Returns the whole text and whether any of it was streamed."""
        guard = RepeatGuard()
        released = ""  # what the guard let through, shown once the text states something
        shown = False
        # The chat model's own stream, not a prompt | model | parser sequence: closing that sequence's stream read the
        # model's to its end (the server wrote on, up to its token limit, and the answer waited for it); closing the
        # model's own stream closes the connection, and the server stops.
        with (
            llm_errors(self.settings.llm.backend),
            contextlib.closing(writing.backend.chat.stream(prompt.invoke(writing.inputs))) as chunks,
        ):
            for chunk in chunks:
                piece = chunk.text
                if writing.answer.first_token_s is None:
                    writing.answer.first_token_s = writing.elapsed()
                    yield Progress(Stage.WRITING, writing.answer.first_token_s)
                released += guard.feed(piece)
                if not shown and not states_nothing(guard.text):
                    shown = True
                if shown and released and writing.stream:
                    yield released
                    released = ""
                if guard.repeated:  # closing the stream stops the model
                    break
        released += guard.finish()
        if (shown or not states_nothing(guard.text)) and released:
            shown = True
            if writing.stream:
                yield released
        return guard.text, shown and writing.stream

    def _audit(self, answer: Answer, reader: Reader) -> None:
        self.audit.record(
            AuditKind.QUESTION,
            reader,
            question=answer.question,
            retrieved=[s.chunk_id for s in answer.sources],
            cited=[s.chunk_id for s in answer.cited_sources],
            backend=answer.backend,
            abstained=answer.abstained,
        )

    def _record_gap(self, answer: Answer, where: dict | None) -> None:
        if where:  # the agent narrowed the search (services): what is missing is missing from their choice
            return
        closest = [{"title": s.title, "path": s.path, "page": s.page, "score": s.score} for s in answer.sources[:3]]
        self.feedback.record_unanswered(
            answer.question, answer.standalone_question, answer.abstention_reason or "", closest
        )
