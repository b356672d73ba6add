"""Web and lightweight markup: HTML (site chrome removed) and Markdown (front matter read), through unstructured."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.dates import find_date
from ingest.documents import Block, LoadedDocument
from ingest.loaders.common import LoadOptions
from ingest.loaders.elements import from_elements, unstructured_ready
from ingest.loaders.text import decode_text
from sourcier.errors import DocumentError

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def load_html(path: Path, options: LoadOptions) -> LoadedDocument:
    unstructured_ready()
    from lxml import html as lxml_html
    from unstructured.partition.html import partition_html

    text = decode_text(path.read_bytes())
    tree = lxml_html.fromstring(text.encode("utf-8"))
    # Site chrome (menus, sidebars, footers, scripts) is not document content.
    for node in tree.xpath(
        "//nav|//header|//footer|//aside[not(@class='ANoter')]|//script|//style|//noscript"
        "|//*[contains(@class,'sidebar') or contains(@class,'navbar')]"
    ):
        node.drop_tree()
    meta = {m.get("name", "").lower(): m.get("content", "") for m in tree.xpath("//meta[@name]")}
    title_nodes = tree.xpath("//title/text()")
    title = " ".join(title_nodes[0].split()) if title_nodes else ""
    title = re.sub(r"\s*[|–-]\s*guides\.etalab\.gouv\.fr$", "", title, flags=re.IGNORECASE)
    elements = partition_html(text=lxml_html.tostring(tree, encoding="unicode"))
    document = from_elements(elements, "html", title=title)
    # The service-public description paragraph repeats the introduction word for word.
    document.blocks = _drop_repeats(document.blocks)
    document.doc_date = find_date(meta.get("dc.date", "") or meta.get("date", ""))
    return document


def _drop_repeats(blocks: list[Block]) -> list[Block]:
    seen: set[str] = set()
    kept = []
    for block in blocks:
        key = " ".join(block.text.split())
        if key in seen:
            continue
        seen.add(key)
        kept.append(block)
    return kept


def load_markdown(path: Path, options: LoadOptions) -> LoadedDocument:
    unstructured_ready()
    from unstructured.partition.md import partition_md

    text = decode_text(path.read_bytes())
    front = {}
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            front[key.strip().lower()] = value.strip().strip("'\"")
        text = text[match.end() :]
    # VuePress containers (::: tip) are markup, not content.
    text = re.sub(r"^:::.*$", "", text, flags=re.MULTILINE)
    if not text.strip():
        raise DocumentError("Document Markdown sans contenu (seulement un en-tête).")
    document = from_elements(partition_md(text=text), "md", title=front.get("title", ""))
    document.doc_date = find_date(front.get("date", ""))
    return document
