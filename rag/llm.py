"""LLM backends behind one interface (LangChain chat models): ollama, openai-compatible, embedded, auto."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from langchain_core.language_models import BaseChatModel

from rag import local_ports
from rag.extracts import TokenCounter, estimated_tokens
from rag.llm_server import SERVED_NAME, EmbeddedServer
from sourcier.errors import ConfigurationError, LLMUnavailableError
from sourcier.models.gguf import GGUF_NAME
from sourcier.settings import LLMBackendKind, Settings


@dataclass(frozen=True)
class Backend:
    """A chat model and what to call it; any LangChain chat model that streams fulfils the contract."""

    name: str  # LLMBackendKind: ollama | openai | embedded (a test backend may use its own)
    model: str
    chat: BaseChatModel
    # How many tokens a text is for this model: what the extracts' budget is counted in.
    count_tokens: TokenCounter = field(default=estimated_tokens, compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} · {self.model}"


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, httpx.TransportError]
    with contextlib.suppress(ImportError):
        import openai

        errors += [openai.APIConnectionError, openai.InternalServerError]
    with contextlib.suppress(ImportError):
        import ollama

        errors.append(ollama.ResponseError)
    return tuple(errors)


@contextlib.contextmanager
def llm_errors(backend: LLMBackendKind | str) -> Iterator[None]:
    """Failures to reach the LLM become an `LLMUnavailableError` that says, in French, what to check."""
    try:
        yield
    except _unreachable_errors() as exc:
        raise LLMUnavailableError(
            f"Le modèle de langage ne répond pas (configuration : {backend}). Vérifiez que le serveur est démarré "
            "(Ollama : « ollama serve » et le modèle téléchargé ; serveur compatible OpenAI : son adresse), "
            "ou utilisez le modèle intégré : SOURCIER_LLM__BACKEND=embedded."
        ) from exc


def server_tokenizer(base_url: str) -> TokenCounter:
    """The embedded server's own tokenizer (llama.cpp's /tokenize), estimated if it cannot be asked."""
    client = httpx.Client(base_url=base_url, timeout=5)

    def count(text: str) -> int:
        try:
            response = client.post("/tokenize", json={"content": text})
            response.raise_for_status()
            return len(response.json()["tokens"])
        except (httpx.HTTPError, KeyError, ValueError):
            return estimated_tokens(text)

    return count


def ollama_models(host: str, timeout: float = 1.5) -> list[str] | None:
    """Models an Ollama server offers, or None when nothing answers at `host`."""
    try:
        response = httpx.get(f"{host.rstrip('/')}/api/tags", timeout=timeout)
        response.raise_for_status()
        return [model["name"] for model in response.json().get("models", [])]
    except (httpx.HTTPError, ValueError):
        return None


def _trusted_ollama(host: str) -> bool:
    """`auto` takes an Ollama on this machine only if Ollama's own binary answers on the port: anything else there
    (another user's program that took the port) would read every prompt. A remote host was configured on purpose."""
    address = urlsplit(host)
    if address.hostname not in {"127.0.0.1", "localhost", "::1"}:
        return True
    return local_ports.is_ollama(local_ports.listener(address.port or 11434))


_EMBEDDED: dict[tuple, EmbeddedServer] = {}


def embedded_server(settings: Settings) -> EmbeddedServer:
    llm = settings.llm
    model = Path(settings.embedding.models_dir) / GGUF_NAME
    key = (str(model), llm.embedded_port)
    if key not in _EMBEDDED:
        _EMBEDDED[key] = EmbeddedServer(model, llm.embedded_port, llm.embedded_context, llm.embedded_threads)
    return _EMBEDDED[key]


def make_backend(settings: Settings) -> Backend:
    llm = settings.llm
    choice = llm.backend
    if choice == LLMBackendKind.AUTO:
        available = ollama_models(llm.ollama_host) if _trusted_ollama(llm.ollama_host) else None
        has_model = available is not None and any(
            name == llm.ollama_model or name.split(":")[0] == llm.ollama_model for name in available
        )
        choice = LLMBackendKind.OLLAMA if has_model else LLMBackendKind.EMBEDDED

    if choice == LLMBackendKind.OLLAMA:
        from langchain_ollama import ChatOllama

        client = {"timeout": llm.timeout_s}
        if llm.ollama_token:
            client["headers"] = {"Authorization": f"Bearer {llm.ollama_token}"}
        if llm.ca_file:
            client["verify"] = str(llm.ca_file)
        chat = ChatOllama(
            base_url=llm.ollama_host,
            model=llm.ollama_model,
            temperature=llm.temperature,
            num_predict=llm.max_tokens,
            num_ctx=8192,
            client_kwargs=client,
        )
        return Backend(LLMBackendKind.OLLAMA, llm.ollama_model, chat)

    from langchain_openai import ChatOpenAI

    if choice == LLMBackendKind.OPENAI:
        if not llm.openai_base_url or not llm.openai_model:
            raise ConfigurationError(
                "Backend « openai » : renseignez llm.openai_base_url et llm.openai_model "
                "(SOURCIER_LLM__OPENAI_BASE_URL, SOURCIER_LLM__OPENAI_MODEL)."
            )
        base_url, model = llm.openai_base_url, llm.openai_model
    else:
        server_url = embedded_server(settings).ensure_running()
        base_url, model = server_url + "/v1", SERVED_NAME
    tls = {}
    if choice == LLMBackendKind.OPENAI and llm.ca_file:
        tls = {
            "http_client": httpx.Client(verify=str(llm.ca_file), timeout=llm.timeout_s),
            "http_async_client": httpx.AsyncClient(verify=str(llm.ca_file), timeout=llm.timeout_s),
        }
    chat = ChatOpenAI(
        **tls,
        base_url=base_url,
        api_key=llm.openai_api_key,
        model=model,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        timeout=llm.timeout_s,
        max_retries=1,
        streaming=True,
        stream_usage=False,
    )
    if choice == LLMBackendKind.OPENAI:
        return Backend(LLMBackendKind.OPENAI, model, chat)
    return Backend(
        LLMBackendKind.EMBEDDED, "qwen2.5-coder-1.5b-instruct (llama.cpp)", chat, server_tokenizer(server_url)
    )
