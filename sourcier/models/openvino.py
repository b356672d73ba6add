"""The embedding model on OpenVINO: exported offline from its local folder, run in bfloat16 where the CPU has it.

On a server CPU with AMX or AVX-512 BF16 (most Xeons since 2020), OpenVINO runs the matrix products in bfloat16
by default (its `INFERENCE_PRECISION_HINT`), elsewhere in fp32; the vectors stay within cosine 0.9999 of the
sentence-transformers ones either way (see README, « Embedding runtimes »). The graph is exported by torch's own
ONNX exporter from the converted folder and read by OpenVINO's ONNX reader: OpenVINO's model converter (`ovc`,
`convert_model`) is not used, it carries telemetry. The export is recorded with its sha256, like the converted
model, and refused if damaged.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from sourcier.errors import ModelUnavailableError
from sourcier.hashing import sha256_file

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
CHECKSUMS_FILE = "sourcier-checksums.json"


def exported_model(source: Path, target: Path) -> Path:
    """The ONNX graph of the sentence-transformers folder `source`, exported into `target` on first use (never
    into `source`: a model folder may belong to a package)."""
    if not (target / CHECKSUMS_FILE).exists():
        export_onnx(source, target)
    recorded = json.loads((target / CHECKSUMS_FILE).read_text())
    if sha256_file(target / MODEL_FILE) != recorded.get(MODEL_FILE):
        raise ModelUnavailableError(
            f"Le modèle ONNX dans {target} est endommagé. Supprimez ce dossier : il sera reconstruit."
        )
    return target / MODEL_FILE


def export_onnx(source: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    log.info("Export ONNX du modèle d'embedding %s", source)
    # Eager attention: the exported graph then holds plain matrix products OpenVINO fuses itself.
    model = AutoModel.from_pretrained(source, attn_implementation="eager", local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(),
            (sample, sample),
            str(partial / MODEL_FILE),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    (partial / CHECKSUMS_FILE).write_text(json.dumps({MODEL_FILE: sha256_file(partial / MODEL_FILE)}))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # whole or absent: an interrupted export starts again


class OpenVinoEncoder:
    """What `Embedder` needs of a SentenceTransformer (`encode`, the dimension), on OpenVINO: same tokenizer,
    same mean pooling and normalisation, batches of similar lengths (as sentence-transformers sorts them)."""

    def __init__(self, source: Path, onnx: Path, prompts: dict[str, str], threads: int, max_length: int = 512) -> None:
        import openvino
        from tokenizers import Tokenizer

        core = openvino.Core()
        self.compiled = core.compile_model(
            core.read_model(str(onnx)),
            "CPU",
            {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads},
        )
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        # The model's own tokenizer file, read by the `tokenizers` library that transformers' fast tokenizer wraps
        # (the same ids and masks, checked by tests/test_embedding_openvino.py), without transformers' import of
        # torch: seconds at every start of a command.
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("<pad>"), pad_token="<pad>")
        self.prompts, self.max_length = prompts, max_length
        self.dimension = int(self.compiled.output(0).get_partial_shape()[-1].get_length())

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], batch_size: int, prompt_name: str | None = None, **_) -> np.ndarray:
        """As `SentenceTransformer.encode` is called by `Embedder`: vectors always normalised, as numpy."""
        prefix = self.prompts.get(prompt_name, "") if prompt_name else ""
        texts = [prefix + text for text in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        # One request per call: a compiled model's own request is not safe to share between threads (the API).
        request = self.compiled.create_infer_request()
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
            mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
            hidden = request.infer({"input_ids": ids, "attention_mask": mask})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out
