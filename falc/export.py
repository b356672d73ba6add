"""Export: a draft as Markdown, DOCX or ODT (pandoc, from the `pypandoc_binary` wheel: nothing to install),
always marked as a draft to be proofread — the FALC label is never applied here.
"""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path

from falc.rewrite import Draft

# The European easy-to-read rules require proofreading by people with intellectual disabilities before the label.
PROOFREADING_NOTICE = (
    "Brouillon préparé avec un outil automatique. Avant toute diffusion, ce texte doit être relu et testé par des "
    "personnes en situation de handicap intellectuel. Il ne porte pas le logo « Facile à lire et à comprendre » : "
    "seule cette relecture permet de l'apposer."
)
TO_REWRITE = "Passage à réécrire à la main : le modèle n'a pas su le simplifier sans perdre une information."
TO_SIMPLIFY = (
    "Passage à revoir : ses dernières phrases sont celles du document (le modèle avait oublié leurs chiffres)."
)


class ExportFormat(StrEnum):
    MARKDOWN = "md"
    DOCX = "docx"
    ODT = "odt"


def to_markdown(draft: Draft) -> str:
    lines = [f"# {draft.title}", "", f"*{PROOFREADING_NOTICE}*", ""]
    if not draft.validated:
        lines += ["*Version non validée par le propriétaire du document.*", ""]
    for section in draft.sections:
        if section.title and section.title != draft.title:
            lines += [f"## {section.title}", ""]
        for passage in section.passages:
            if passage.to_rewrite:
                lines += [f"*{TO_REWRITE if passage.kept_source else TO_SIMPLIFY}*", ""]
            # One sentence a paragraph: FALC puts each sentence on its own line.
            lines += [
                line for sentence in passage.draft.splitlines() if sentence.strip() for line in (_md(sentence), "")
            ]
    return "\n".join(lines).rstrip() + "\n"


def _md(sentence: str) -> str:
    """A sentence as Markdown text, not markup: a leading « 1. » or « - » stays a character."""
    sentence = sentence.strip()
    return "\\" + sentence if sentence[:1] in "-+*#>" or sentence[:3].rstrip(".").isdigit() else sentence


def export(draft: Draft, format: ExportFormat) -> bytes:
    markdown = to_markdown(draft)
    if format == ExportFormat.MARKDOWN:
        return markdown.encode("utf-8")
    import pypandoc

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / f"falc.{format.value}"
        pypandoc.convert_text(
            markdown,
            format.value,
            format="markdown",
            outputfile=str(output),
            extra_args=["--metadata", f"title={draft.title} — version FALC (brouillon)"],
        )
        return output.read_bytes()
