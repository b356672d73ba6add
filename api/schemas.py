"""What the API reads and writes: the request bodies it validates and the answers it documents (OpenAPI at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QUESTION_MAX = 2000  # characters: a question, not a document
MESSAGE_MAX = 20_000  # an earlier answer in a conversation
SERVICES_MAX = 50


class Exchange(BaseModel):
    """A previous question of the conversation and the answer it got: follow-ups are searched with it."""

    question: str = Field(max_length=QUESTION_MAX)
    answer: str = Field("", max_length=MESSAGE_MAX)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    conversation: list[Exchange] = Field(default_factory=list, max_length=20)
    services: list[str] = Field(default_factory=list, max_length=SERVICES_MAX, description="Limiter aux services.")
    stream: bool = Field(True, description="Événements SSE au fil de l'eau ; false : la réponse vérifiée seule.")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=QUESTION_MAX)
    services: list[str] = Field(default_factory=list, max_length=SERVICES_MAX)
    limit: int = Field(5, ge=1, le=20)


class SourceOut(BaseModel):
    number: int
    chunk_id: str
    document_id: str | None = None
    title: str
    path: str
    service: str
    page: int | None
    section: str | None
    excerpt: str
    highlights: list[str] = []
    score: float


class SentenceOut(BaseModel):
    text: str
    sources: list[int]
    supported: bool
    doubt: str | None = Field(None, description="Pourquoi la phrase est à vérifier (absent : elle est étayée).")


class AnswerOut(BaseModel):
    question: str
    standalone_question: str
    text: str
    sentences: list[SentenceOut]
    sources: list[SourceOut]
    abstained: bool
    abstention_reason: str | None
    withheld: list[str] = Field(
        default_factory=list, description="Pourquoi des phrases écrites par le modèle ne sont pas montrées."
    )
    supported_share: float | None
    backend: str | None
    model: str | None
    retrieval_s: float
    first_useful_s: float | None
    first_token_s: float | None
    total_s: float


class SearchOut(BaseModel):
    query: str
    results: list[SourceOut]


class DocumentOut(BaseModel):
    id: str
    path: str
    title: str | None
    service: str | None
    format: str | None
    pages: int | None
    date: str | None
    chunks: int


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    answer: str = Field(max_length=20_000)
    rating: Literal[1, -1] = Field(description="1 : utile ; -1 : pas utile.")
    comment: str | None = Field(None, max_length=2000)
    cited_chunks: list[str] = Field(default_factory=list, max_length=20)


class FeedbackOut(BaseModel):
    id: int


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(False, description="Tout réindexer dans une nouvelle collection, puis basculer.")


# --- OpenAI-compatible ----------------------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> ChatMessage:
        if len(self.text) > MESSAGE_MAX:
            raise ValueError(f"message trop long : {MESSAGE_MAX} caractères au plus")
        return self

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; sampling options are accepted and left to Sourcier's settings."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
