"""What no file may send to the embedder: text without words (a megabyte line without a space, base64, symbol soup)
and more passages than any document holds. Such a file would take hours to embed and crowd real documents out of
retrieval (1,698 passages of one unclosed front matter took 155 of 210 dense top-10 slots); it is reported and not
embedded until it changes."""

from __future__ import annotations

import re

# A word as documents write them: letters or digits, with the punctuation that clings to words, at most 40 long
# (« anticonstitutionnellement » is 25; a URL is cut at its slashes by nobody, so URLs count as words up to 40).
_WORD = re.compile(r"[^\W_]")
_MIN_CHARS = 2000  # below this, a short note of codes or a table of symbols is not worth a verdict


def word_share(text: str) -> float:
    """Share of the non-space characters that belong to word-like tokens."""
    total = worded = 0
    for token in text.split():
        total += len(token)
        if len(token) <= 40 and _WORD.search(token):
            worded += len(token)
    return worded / total if total else 1.0


def junk_reason(text: str, chunks: int, max_chunks: int) -> str | None:
    """Why a document is not embedded (French), or None."""
    if len(text) >= _MIN_CHARS and word_share(text) < 0.3:  # real documents measured: 0.60 at the lowest
        return (
            f"Texte sans mots : {round(100 * (1 - word_share(text)))} % du texte n'est fait ni de mots ni de nombres "
            "(données encodées, symboles, ligne sans espace). Le fichier n'est pas indexé."
        )
    if chunks > max_chunks:
        return (
            f"Trop d'extraits : {chunks} pour ce seul fichier (limite : {max_chunks}, réglage "
            "ingest.max_chunks_per_file). Découpez le document ou vérifiez son contenu : il n'est pas indexé."
        )
    return None
