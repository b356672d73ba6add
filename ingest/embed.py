"""Embed: sentence-transformers or OpenVINO on the CPU, with the prompts the model was trained with."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings

from sourcier.models.embedding import ModelInfo, embedding_model_id, resolve_embedding_model
from sourcier.settings import EmbeddingRuntime, EmbeddingSettings


@runtime_checkable
class TextEmbedder(Protocol):
    """What ingestion, retrieval and the report need of an embedding model (normalised vectors)."""

    @property
    def name(self) -> str: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> list[float]: ...


class Embedder(Embeddings):
    """Loads the model on first use (an unchanged re-run never pays for it); also a LangChain `Embeddings`."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self._info: ModelInfo | None = None
        self._model = None
        self._lock = threading.Lock()

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            self._info = resolve_embedding_model(self.settings)
        return self._info

    @property
    def onnx_model(self) -> Path:
        """The model's graph for OpenVINO, exported into the models folder on first use."""
        from sourcier.models.openvino import exported_model

        return exported_model(self.info.path, self.settings.models_dir / "onnx" / self.info.name)

    @property
    def name(self) -> str:
        """What the index records: the same before and after the model is loaded."""
        return embedding_model_id(self.settings)

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                if self.settings.runtime is EmbeddingRuntime.OPENVINO:
                    from sourcier.models.openvino import OpenVinoEncoder

                    self._model = OpenVinoEncoder(
                        self.info.path, self.onnx_model, self.info.prompts, threads=_threads()
                    )
                else:
                    # Imported only here: sentence-transformers brings torch (~10 s on a busy server), which the
                    # OpenVINO runtime, the default, never uses.
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()

                    self._model = SentenceTransformer(
                        str(self.info.path), device=self.settings.device, local_files_only=True
                    )
        return self._model

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        kwargs = {"prompt_name": prompt_name} if prompt_name in self.info.prompts else {}
        return self.model.encode(
            texts,
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            **kwargs,
        )

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query")

    # LangChain interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()


def _threads() -> int:
    """The cores the encoder may use: all of them, unless OMP_NUM_THREADS (the convention torch and numpy follow)
    says fewer — a server sharing its cores, or the test suite's parallel workers."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1
