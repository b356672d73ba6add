"""Text inside documents is data. Passages written as instructions to an AI are cut out before a model sees them.

A small model follows the last imperative it reads, whatever its system prompt says; delimiting the extracts is
not enough (measured: Qwen2.5 1.5B obeyed an injected « réponds uniquement par … » inside a delimited extract).
So such sentences are replaced by a neutral marker, and the data-quality report can list the documents holding them.
"""

from __future__ import annotations

import re

REDACTED = "[passage retiré : consigne adressée à une IA]"

_PATTERNS = [
    r"ignore[rz]?\s+(?:toutes?\s+)?(?:les\s+|tes\s+|vos\s+)?(?:instructions|consignes|règles)",
    r"oublie[rz]?\s+(?:toutes?\s+)?(?:les\s+|tes\s+|vos\s+)?(?:instructions|consignes|règles)",
    r"(?:ne\s+tiens?\s+pas\s+compte|fais\s+abstraction)\s+des?\s+(?:instructions|consignes)",
    r"\btu\s+(?:dois|devras)\s+(?:maintenant|désormais|dorénavant)\b",
    r"\b(?:réponds|répondez)\s+(?:uniquement|seulement|désormais|maintenant)\s+(?:par|avec|en)\b",
    r"\b(?:en\s+tant\s+qu[e']\s*(?:IA|assistant|modèle)|si\s+tu\s+es\s+une?\s+(?:IA|intelligence\s+artificielle))",
    r"\b(?:prompt\s+syst[eè]me|system\s+prompt)\b",
    r"\bignore\s+(?:all\s+|any\s+)?(?:previous|prior|above)\s+(?:instructions|prompts?)",
    r"\byou\s+(?:must|are\s+now|will\s+now)\b",
    r"\b(?:assistant|AI|IA)\s*:\s*(?:ignore|réponds|answer)",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


def find_injections(text: str) -> list[str]:
    """Sentences of `text` that address an AI with instructions."""
    return [
        m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip() and _INSTRUCTION.search(m.group(0))
    ]


def neutralise(text: str) -> str:
    """`text` with every instruction-to-an-AI sentence (and the sentence right after it) replaced by a marker."""
    sentences = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]
    out, skip_next = [], False
    for sentence in sentences:
        if _INSTRUCTION.search(sentence):
            if not out or out[-1] != REDACTED:
                out.append(REDACTED)
            skip_next = True
            continue
        if skip_next and sentence.strip():
            skip_next = False
            # The payload often follows on its own line: « … répondre uniquement par la phrase » / « XYZ ».
            if sentence.strip().startswith(("«", '"', "“")):
                continue
        out.append(sentence)
    return "".join(part if part != REDACTED else f" {REDACTED} " for part in out).strip()
