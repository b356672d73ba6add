"""The embedding model for ONNX Runtime with dynamic int8 quantisation, built offline from its local folder.

sentence-transformers' own ONNX backend goes through `optimum`, whose releases pin an older `transformers` than the
one installed; the same three steps are done here with the libraries themselves: torch's ONNX exporter (eager
attention, so that ONNX Runtime recognises and fuses it), ONNX Runtime's BERT graph fusion, then its dynamic int8
quantisation of the matrix products and attention weights (per channel: closer to fp32 at the same speed).
The result is recorded with its sha256, like the converted model, and refused if damaged.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sourcier.errors import ModelUnavailableError
from sourcier.hashing import sha256_file

log = logging.getLogger(__name__)

FOLDER = "onnx-int8"
MODEL_FILE = "model.onnx"
CHECKSUMS_FILE = "sourcier-checksums.json"


def int8_model(source: Path) -> Path:
    """The quantised model of the sentence-transformers folder `source`, built on first use."""
    target = source / FOLDER
    if not (target / CHECKSUMS_FILE).exists():
        build_int8(source, target)
    recorded = json.loads((target / CHECKSUMS_FILE).read_text())
    if sha256_file(target / MODEL_FILE) != recorded.get(MODEL_FILE):
        raise ModelUnavailableError(
            f"Le modèle ONNX dans {target} est endommagé. Supprimez ce dossier : il sera reconstruit."
        )
    return target / MODEL_FILE


def build_int8(source: Path, target: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    log.info("Export ONNX int8 du modèle d'embedding %s", source)
    model = AutoModel.from_pretrained(source, attn_implementation="eager", local_files_only=True).eval()
    config = model.config

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with tempfile.TemporaryDirectory() as tmp:
        exported, fused = Path(tmp) / "model.onnx", Path(tmp) / "fused.onnx"
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState(),
                (sample, sample),
                str(exported),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                opset_version=17,
                dynamo=False,
            )
        optimize_model(
            str(exported), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        ).save_model_to_file(str(fused))
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        quantize_dynamic(
            str(fused),
            str(partial / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # FLOAT: for the fused operators shape inference cannot type
        )
    (partial / CHECKSUMS_FILE).write_text(json.dumps({MODEL_FILE: sha256_file(partial / MODEL_FILE)}))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # whole or absent: an interrupted build starts again


class OnnxEncoder:
    """What `Embedder` needs of a SentenceTransformer (`encode`, the dimension), on ONNX Runtime: same tokenizer,
    same mean pooling and normalisation, batches of similar lengths (as sentence-transformers sorts them)."""

    def __init__(self, source: Path, prompts: dict[str, str], threads: int, max_length: int = 512) -> None:
        import onnxruntime
        from transformers import AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(int8_model(source)), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        self.prompts, self.max_length = prompts, max_length
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], batch_size: int, prompt_name: str | None = None, **_) -> np.ndarray:
        """As `SentenceTransformer.encode` is called by `Embedder`: vectors always normalised, as numpy."""
        prefix = self.prompts.get(prompt_name, "") if prompt_name else ""
        texts = [prefix + text for text in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            tokens = self.tokenizer(
                [texts[i] for i in batch], padding=True, truncation=True, max_length=self.max_length,
                return_tensors="np",
            )  # fmt: skip
            mask = tokens["attention_mask"].astype(np.int64)
            (hidden,) = self.session.run(
                None, {"input_ids": tokens["input_ids"].astype(np.int64), "attention_mask": mask}
            )
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out
