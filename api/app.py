"""The HTTP API: Sourcier's answers where agents already are (an intranet, a chat bot, an OpenAI-compatible client).

Every route reads through the same live index, with the same rights, as the app: the caller's bearer credential
becomes a `Reader` (`api.auth`), and the index reads only what that reader may read. Questions are written to the
same audit trail. Errors are RFC 9457 problem details in French (`api.problems`). `create_app` builds it;
`sourcier serve` runs it under uvicorn.
"""

# No `from __future__ import annotations`: FastAPI resolves the route signatures' local aliases (Caller, Slot) at
# definition time.
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent, format_sse_event
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import problems
from api.auth import Authenticator
from api.problems import Busy, NotFound
from api.schemas import (
    QUESTION_MAX,
    AnswerOut,
    AskRequest,
    ChatRequest,
    DocumentOut,
    FeedbackOut,
    FeedbackRequest,
    IngestRequest,
    SearchOut,
    SearchRequest,
    SourceOut,
)
from ingest import background
from ingest.embed import Embedder, TextEmbedder
from ingest.live import LiveIndex, index_stamp, narrowed_to, read_live_documents
from ingest.status import index_status
from quality.report import load_last_report, report_for_reader
from rag.chain import Answer, Answerer, Found, Progress, Source, to_source
from rag.extracts import select
from rag.llm import Backend, make_backend
from sourcier import __version__
from sourcier.access import Reader
from sourcier.audit import AuditKind, AuditLog
from sourcier.errors import AccessDeniedError, IngestionRunningError, InputError, SourcierError
from sourcier.feedback import FeedbackStore
from sourcier.french import location
from sourcier.layout import corpus_file
from sourcier.settings import Settings

MODEL_ID = "sourcier"  # the one model /v1/models lists: Sourcier's checked answers, whatever LLM writes them


class Services:
    """What every request shares, made once per process: the answerer (rebuilt when an ingestion changed the index),
    the LLM backend, the stores, and the generation slots of this replica."""

    def __init__(
        self,
        settings: Settings,
        embedder: TextEmbedder | None = None,
        backend: Backend | None = None,
        index: LiveIndex | None = None,
    ) -> None:
        self.settings = settings
        self._index = index  # replaces the Chroma collection (tests, other stores)
        self.authenticator = Authenticator(settings)
        self.feedback = FeedbackStore.for_settings(settings)
        self.audit = AuditLog.for_settings(settings)
        self.generations = threading.BoundedSemaphore(settings.api.max_generations)
        self._embedder = embedder
        self._backend = backend
        self._live: tuple[tuple[str, str], Answerer, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def backend(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = make_backend(self.settings)
            return self._backend

    def live(self) -> tuple[Answerer, dict[str, str]]:
        """The answerer and the documents' ids (path → id) of the live index, made again — from one look at the
        index version — when an ingestion changed it."""
        stamp = index_stamp(self.settings)
        with self._lock:
            if self._live is None or self._live[0] != stamp:
                if self._embedder is None:
                    self._embedder = Embedder(self.settings.embedding)
                # Read afresh: an ingestion (another process) changed the index.
                index = self._index or LiveIndex.open(self.settings, fresh=True)
                answerer = Answerer.from_settings(self.settings, self._embedder, backend=self.backend, index=index)
                documents = read_live_documents(self.settings).documents
                self._live = (stamp, answerer, {path: record.doc_id for path, record in documents.items()})
            return self._live[1], self._live[2]

    def answerer(self) -> Answerer:
        return self.live()[0]


def create_app(
    settings: Settings,
    embedder: TextEmbedder | None = None,
    backend: Backend | None = None,
    index: LiveIndex | None = None,
) -> FastAPI:
    """The API for `settings`; the embedding model, the LLM backend and the index are made on first need unless
    given."""
    services = Services(settings, embedder, backend, index)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Connections are accepted once the models are loaded: a replica that is starting is refused (the client
        # tries another) rather than making its first callers wait behind the loading.
        await run_in_threadpool(lambda: services.answerer().warm_up())
        yield

    app = FastAPIOffline(
        lifespan=lifespan,
        title="Sourcier",
        version=__version__,
        description=(
            "Réponses sourcées à partir des documents de la collectivité. Chaque appel s'identifie par "
            "« Authorization: Bearer » (clé d'API ou jeton OIDC) et ne lit que ce que ses groupes peuvent lire."
        ),
        # No OpenTelemetry export, whatever the environment says: nothing leaves the server.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.services = services
    app.add_exception_handler(SourcierError, problems.sourcier_error)
    app.add_exception_handler(RequestValidationError, problems.invalid_request)
    app.add_exception_handler(StarletteHTTPException, problems.http_error)
    app.add_exception_handler(Exception, problems.unexpected_error)
    _routes(app, services)
    return app


def _routes(app: FastAPI, services: Services) -> None:  # noqa: C901 — one place lists every route
    settings = services.settings
    bearer = HTTPBearer(auto_error=False, description="Clé d'API (sourcier_…) ou jeton OIDC du fournisseur.")

    def reader(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Reader:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        return services.authenticator.reader(header)

    Caller = Annotated[Reader, Depends(reader)]

    def admin(caller: Caller, request: Request) -> Reader:
        if not caller.is_admin:
            services.audit.record(AuditKind.DENIED, caller, page=f"API {request.method} {request.url.path}")
            raise AccessDeniedError("Accès refusé : réservé aux administrateurs de Sourcier.")
        return caller

    Admin = Annotated[Reader, Depends(admin)]

    def generation_slot() -> Iterator[None]:
        """One of this replica's generation slots, held until the response is sent (streamed answers included)."""
        if not services.generations.acquire(timeout=settings.api.queue_s):
            raise Busy("Serveur occupé : d'autres réponses sont en cours de rédaction. Réessayez dans un instant.")
        try:
            yield
        finally:
            services.generations.release()

    Slot = Annotated[None, Depends(generation_slot)]

    # --- answers ---------------------------------------------------------------------------------------------

    @app.post(
        "/v1/ask",
        response_class=EventSourceResponse,
        tags=["réponses"],
        summary="Poser une question (réponse en flux SSE)",
        description=(
            "Événements : `progress` (étape — `searching`, `starting`, `reading`, `writing`, `rewriting`, "
            "`reading_all` — et secondes écoulées), `extracts` (les passages trouvés — ce n'est pas encore la "
            "réponse), `token` (le texte au fil de sa rédaction), puis `answer` (la réponse vérifiée : phrases et "
            "leur appui, sources, abstention) ; `error` (détails de problème RFC 9457) en cas d'échec. L'étape "
            "`rewriting` signale une seconde rédaction, la première n'ayant rien affirmé ; `reading_all`, une "
            "seconde lecture de tous les passages trouvés, le modèle n'ayant pas trouvé la réponse dans ceux retenus "
            "d'abord : le texte et les sources de `answer` font foi. Avec `stream: false`, un seul événement `answer`."
        ),
    )
    def ask(body: AskRequest, caller: Caller, _: Slot) -> Iterator[ServerSentEvent]:
        history = [(exchange.question, exchange.answer) for exchange in body.conversation]
        answerer, ids = services.live()
        events = answerer.stream(body.question, history, narrowed_to(body.services), reader=caller)
        try:
            for event in events:
                if isinstance(event, Answer):
                    yield ServerSentEvent(event="answer", data=_answer_out(event, ids))
                elif not body.stream:
                    continue
                elif isinstance(event, Progress):
                    data = {"stage": event.stage.name.lower(), "label": event.stage.value, "elapsed_s": event.elapsed_s}
                    yield ServerSentEvent(event="progress", data=data)
                elif isinstance(event, Found):
                    sources = [_source_out(s, ids).model_dump() for s in event.sources]
                    yield ServerSentEvent(event="extracts", data={"sources": sources, "elapsed_s": event.elapsed_s})
                else:
                    yield ServerSentEvent(event="token", data={"text": event})
        except SourcierError as error:  # the status line is sent: the problem travels as the last event
            yield ServerSentEvent(event="error", data=problems.of_error(error))

    @app.post("/v1/search", tags=["réponses"], summary="Rechercher des passages (sans rédaction)")
    def search(body: SearchRequest, caller: Caller) -> SearchOut:
        answerer, ids = services.live()
        documents = answerer.retriever.invoke(body.query, where=narrowed_to(body.services), reader=caller, k=body.limit)
        extracts = select(body.query, documents, budget_tokens=10_000)
        results = [_source_out(to_source(e.number, e.document, e), ids) for e in extracts]
        services.audit.record(
            AuditKind.QUESTION, caller, question=body.query, retrieved=[r.chunk_id for r in results], search=True
        )
        return SearchOut(query=body.query, results=results)

    # --- OpenAI-compatible -------------------------------------------------------------------------------------

    @app.get("/v1/models", tags=["compatible OpenAI"], summary="Modèles (un seul : sourcier)")
    def models(caller: Caller) -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "sourcier"}]}

    @app.post(
        "/v1/chat/completions",
        tags=["compatible OpenAI"],
        summary="Complétion de conversation (compatible OpenAI)",
        description=(
            "Le dernier message `user` est la question ; les échanges précédents servent aux questions de suivi ; "
            "les messages `system` sont ignorés (Sourcier a ses propres consignes). La réponse se termine par ses "
            "sources numérotées ; elles sont aussi dans le champ supplémentaire `sources` (et, en flux, dans le "
            "dernier fragment)."
        ),
    )
    def chat_completions(body: ChatRequest, caller: Caller, _: Slot):
        if body.model != MODEL_ID:
            raise NotFound(f"Modèle inconnu « {body.model[:100]} » : le seul modèle est « {MODEL_ID} ».")
        question, history = _question_and_history(body)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        answerer, ids = services.live()
        events = answerer.stream(question, history, reader=caller)
        if not body.stream:
            answer = [event for event in events if isinstance(event, Answer)][-1]
            message = {"role": "assistant", "content": answer.text + _references(answer)}
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "sources": [_source_out(s, ids).model_dump() for s in answer.sources],
                "sourcier": _answer_out(answer, ids).model_dump(exclude={"sources"}),
            }

        def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return format_sse_event(data_str=json.dumps(data, ensure_ascii=False))

        def stream() -> Iterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                for event in events:
                    if isinstance(event, str):
                        yield chunk({"content": event})
                    elif isinstance(event, Answer):
                        yield chunk({"content": _references(event)})
                        sources = [_source_out(s, ids).model_dump() for s in event.sources]
                        yield chunk({}, "stop", sources=sources)
            except SourcierError as error:
                yield chunk({"content": f"\n\n{error}"}, "stop")
            yield format_sse_event(data_str="[DONE]")

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # --- documents and quality -------------------------------------------------------------------------------

    @app.get("/v1/documents", tags=["documents"], summary="Les documents que l'appelant peut lire")
    def documents(caller: Caller) -> list[DocumentOut]:
        index = services.answerer().retriever.index.for_reader(caller)
        counts = index.counts_per_document()
        records = read_live_documents(settings).documents.values()
        return [
            DocumentOut(
                id=record.doc_id,
                path=record.path,
                title=record.title,
                service=record.service,
                format=record.format,
                pages=record.pages,
                date=record.doc_date,
                chunks=counts[record.doc_id],
            )
            for record in sorted(records, key=lambda r: r.path)
            if counts.get(record.doc_id)
        ]

    @app.get("/v1/documents/{document_id}/file", tags=["documents"], summary="Le fichier d'un document")
    def document_file(document_id: str, caller: Caller) -> FileResponse:
        records = read_live_documents(settings).documents.values()
        record = next((r for r in records if r.doc_id == document_id), None)
        index = services.answerer().retriever.index.for_reader(caller)
        if record is None or not index.may_read_document(record.path):
            if record is not None:  # it exists, and this caller may not read it: said the same way, but audited
                services.audit.record(AuditKind.DENIED, caller, page="API document", document=record.path)
            raise NotFound("Aucun document de cet identifiant parmi ceux que vous pouvez lire.")
        path = corpus_file(settings.corpus_dir, record.path)
        if path is None:
            raise NotFound("Ce document n'est plus dans le corpus : une prochaine ingestion le retirera.")
        services.audit.record(AuditKind.DOWNLOAD, caller, document=record.path)
        return FileResponse(path, filename=path.name)

    @app.get("/v1/report", tags=["qualité"], summary="Le rapport de qualité (les constats que l'appelant peut voir)")
    def report(caller: Caller) -> dict:
        data = load_last_report(settings)
        if data is None:
            raise NotFound("Aucun rapport de qualité n'a encore été établi : un administrateur le lance.")
        services.audit.record(AuditKind.REPORT, caller, action="lecture", via="API")
        return report_for_reader(data, caller, services.answerer().retriever.index.for_reader(caller).may_read_document)

    @app.post("/v1/feedback", status_code=201, tags=["réponses"], summary="Dire si une réponse a été utile")
    def feedback(body: FeedbackRequest, caller: Caller) -> FeedbackOut:
        feedback_id = services.feedback.record_feedback(
            body.rating, body.question, body.answer, body.cited_chunks, body.comment
        )
        services.audit.record(AuditKind.FEEDBACK, caller, rating=body.rating, feedback=feedback_id, via="API")
        return FeedbackOut(id=feedback_id)

    # --- ingestion (admins) ----------------------------------------------------------------------------------

    @app.post("/v1/ingest", status_code=202, tags=["administration"], summary="Lancer une ingestion")
    def ingest(caller: Admin, body: IngestRequest | None = None) -> dict:
        body = body or IngestRequest()
        try:
            background.start(settings, caller, rebuild=body.rebuild)
        except IngestionRunningError as error:
            raise InputError(str(error)) from error
        services.audit.record(AuditKind.INGESTION, caller, rebuild=body.rebuild, via="API")
        return {"started": True, "status_url": "/v1/ingest/status"}

    @app.get("/v1/ingest/status", tags=["administration"], summary="Où en est l'ingestion")
    def ingest_status(caller: Admin) -> dict:
        status = index_status(settings)
        progress = background.progress(settings)
        status["running"] = background.is_running(settings)
        status["progress"] = None if progress is None else {**progress.__dict__, "eta_s": progress.eta_s()}
        return status


# --- helpers ---------------------------------------------------------------------------------------------------


def _source_out(source: Source, ids: dict[str, str]) -> SourceOut:
    return SourceOut(
        number=source.number,
        chunk_id=source.chunk_id,
        document_id=ids.get(source.path),
        title=source.title,
        path=source.path,
        service=source.service,
        page=source.page,
        section=source.section,
        excerpt=source.excerpt,
        highlights=source.highlights,
        score=round(source.score, 4),
    )


def _answer_out(answer: Answer, ids: dict[str, str]) -> AnswerOut:
    return AnswerOut(
        question=answer.question,
        standalone_question=answer.standalone_question,
        text=answer.text,
        sentences=[
            {"text": s.text, "sources": s.sources, "supported": s.supported, "doubt": s.doubt}
            for s in answer.sentences
            if not s.is_abstention
        ],
        sources=[_source_out(s, ids) for s in answer.sources],
        abstained=answer.abstained,
        abstention_reason=answer.abstention_reason,
        withheld=answer.withheld,
        supported_share=answer.supported_share,
        backend=answer.backend,
        model=answer.model,
        retrieval_s=answer.retrieval_s,
        first_useful_s=answer.first_useful_s,
        first_token_s=answer.first_token_s,
        total_s=answer.total_s,
    )


def _references(answer: Answer) -> str:
    """The numbered sources under an answer, for clients that show only the text: those it cites (all it was
    given, when it cites none); none for an abstention."""
    if answer.abstained or not answer.sources:
        return ""
    listed = answer.cited_sources or answer.sources
    lines = []
    for source in listed:
        where = location(source.page, source.section)
        lines.append(f"[{source.number}] {source.title}{', ' + where if where else ''}")
    return "\n\nSources :\n" + "\n".join(lines)


def _question_and_history(body: ChatRequest) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the (question, answer) pairs before it."""
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
        raise InputError("Le dernier message doit être une question (rôle « user ») non vide.")
    question = turns[-1].text.strip()
    if len(question) > QUESTION_MAX:
        raise InputError(f"Question trop longue : {QUESTION_MAX:,} caractères au plus.".replace(",", "\u202f"))
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for message in turns[:-1]:
        if message.role == "user":
            pending = message.text
        elif pending is not None:
            history.append((pending, _without_references(message.text)))
            pending = None
    return question, history[-20:]


def _without_references(text: str) -> str:
    return text.split("\n\nSources :\n", 1)[0]
