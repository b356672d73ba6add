"""unstructured's element model (titles, narrative, lists, tables) → blocks that carry their heading path.

Shared by the word-processing and web formats.
"""

from __future__ import annotations

import re

from ingest.documents import Block, LoadedDocument

# unstructured guesses each document's language with langdetect (40 % of the time it takes to parse a web page);
# nothing here reads the guess. `[""]` is its way of skipping it.
NO_LANGUAGE_DETECTION = {"languages": [""]}


def unstructured_ready() -> None:
    """unstructured downloads an English spaCy model from GitHub on first use: hand it a French pipeline.

    It only needs sentence boundaries and part-of-speech tags to guess titles from plain text; its verb test knows
    English tags only, so a statistical French model adds nothing but time (70 % of HTML parsing). A blank French
    tokenizer with the rule-based sentencizer gives the same elements, offline, without any model file.
    """
    import spacy
    import unstructured.nlp.tokenize as tokenize

    if getattr(tokenize._load_spacy_model, "_sourcier", False):
        return

    def french_sentences():
        nlp = spacy.blank("fr")
        nlp.add_pipe("sentencizer")
        return nlp

    french_sentences._sourcier = True  # type: ignore[attr-defined]
    tokenize._load_spacy_model = french_sentences
    tokenize._get_nlp.cache_clear()


def from_elements(elements, fmt: str, title: str = "") -> LoadedDocument:
    """Turn unstructured elements into blocks carrying their heading path."""
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for element in elements:
        category = element.category
        text = _clean_heading(str(element)) if category == "Title" else str(element).strip()
        if not text:
            continue
        if category == "Title" and not _looks_like_heading(text):
            category = "NarrativeText"  # unstructured takes short bold sentences for titles
        if category == "Title":
            depth = element.metadata.category_depth or 0
            if not title:
                title = text
                continue
            if text == title:
                continue
            headings = [(d, h) for d, h in headings if d < depth] + [(depth, text)]
            continue
        if category == "Table":
            text = _table_text(element) or text
        if category == "ListItem":
            text = f"- {text}"
        page = element.metadata.page_number if fmt in {"docx", "odt"} else None
        blocks.append(Block(text, page=page, section=tuple(h for _, h in headings)))
    return LoadedDocument(title=title, format=fmt, blocks=_merge_small(blocks))


def _looks_like_heading(text: str) -> bool:
    return len(text) <= 120 and not text.endswith((".", ":", ";", ",")) and "\n" not in text


def _clean_heading(text: str) -> str:
    # VuePress renders an anchor "#" before each heading.
    return re.sub(r"^#+\s*", "", text.strip()).strip()


def _table_text(element) -> str:
    """Rows as lines and cells separated by " | ": keeps the table readable for the model and the reader."""
    html = getattr(element.metadata, "text_as_html", None)
    if not html:
        return ""
    from lxml import html as lxml_html

    rows = []
    for row in lxml_html.fromstring(html).iter("tr"):
        cells = [" ".join(cell.text_content().split()) for cell in row if cell.tag in {"td", "th"}]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _merge_small(blocks: list[Block]) -> list[Block]:
    """Consecutive list items and short lines of one section become one block, so lists stay whole."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            previous
            and previous.section == block.section
            and previous.page == block.page
            and (block.text.startswith("- ") or len(block.text) < 60 or len(previous.text) < 60)
        ):
            previous.text = f"{previous.text}\n{block.text}"
        else:
            merged.append(Block(block.text, block.page, block.section))
    return merged
