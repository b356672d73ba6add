"""Web and lightweight markup: HTML (site chrome removed) and Markdown (front matter read), through unstructured."""

from __future__ import annotations

import html as html_escape
import re
from html.parser import HTMLParser
from pathlib import Path

from ingest.dates import find_date
from ingest.documents import Block, LoadedDocument
from ingest.loaders.common import LoadOptions, break_long_lines, paragraphs, tidy
from ingest.loaders.elements import NO_LANGUAGE_DETECTION, from_elements, unstructured_ready
from ingest.loaders.hidden import drop_hidden, hidden_note, strip_comments
from ingest.loaders.text import decode
from sourcier.errors import DocumentError

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_PROLOG = re.compile(r"\A\s*<\?xml[^>]*\?>")
# lxml (libxml2) drops everything below depth 256 (2048 with huge_tree) without a word; unstructured recurses.
# Deeper markup is flattened: its tags are dropped below this depth, its text kept.
MAX_HTML_DEPTH = 100
# unstructured parses with lxml without huge_tree: libxml2 stops reading after ~10 MB of text, silently.
MAX_STRUCTURED_CHARS = 4_000_000
_MAX_QUOTE_DEPTH = 50
_DEEP_QUOTE = re.compile(rf"^[ \t]{{0,3}}(?:>[ \t]?){{{_MAX_QUOTE_DEPTH + 1},}}", re.MULTILINE)
_FLATTENED_NOTE = f"Structure imbriquée sur plus de {MAX_HTML_DEPTH} niveaux : aplatie, texte conservé."
_BLOCK_TAGS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "table", "pre"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_SELF_CLOSING_SIBLINGS = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}  # <p> one <p> two: siblings, not nested


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its head; ISO-8859-1 means Windows-1252 (as browsers read it)."""
    match = _DECLARED_CHARSET.search(data[:4096])
    if not match:
        return None
    name = match.group(1).decode("ascii").lower()
    return "cp1252" if name in {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"} else name


def load_html(path: Path, options: LoadOptions) -> LoadedDocument:
    unstructured_ready()
    from lxml import html as lxml_html
    from unstructured.partition.html import partition_html

    data = path.read_bytes()
    decoded = decode(data, declared=declared_charset(data))
    text = _XML_PROLOG.sub("", decoded.text)  # lxml refuses a str that declares its encoding
    text, hidden = strip_comments(text)
    flat = _Flattener.flatten(text)
    notes = [note for note in [decoded.note] if note]
    if flat is not None:
        text = flat
        notes.append(_FLATTENED_NOTE)
    tree = lxml_html.fromstring(text, parser=lxml_html.HTMLParser(huge_tree=True))
    # Site chrome (menus, sidebars, footers, scripts) is not document content.
    for node in tree.xpath(
        "//nav|//header|//footer|//aside[not(@class='ANoter')]|//script|//noscript"
        "|//*[contains(@class,'sidebar') or contains(@class,'navbar')]"
    ):
        node.drop_tree()
    hidden += drop_hidden(tree)  # before the style sheets go: they say which classes hide
    for node in tree.xpath("//style"):
        node.drop_tree()
    if hidden:
        notes.append(hidden_note(hidden))
    meta = {m.get("name", "").lower(): m.get("content", "") for m in tree.xpath("//meta[@name]")}
    title_nodes = tree.xpath("//title/text()")
    title = " ".join(title_nodes[0].split()) if title_nodes else ""
    title = re.sub(r"\s*[|–-]\s*guides\.etalab\.gouv\.fr$", "", title, flags=re.IGNORECASE)
    cleaned = lxml_html.tostring(tree, encoding="unicode")
    if len(cleaned) > MAX_STRUCTURED_CHARS:
        document = _plain_text_document(tree, title)
        notes.append("Page HTML très volumineuse : lue comme texte simple, sans ses titres de sections.")
    else:
        document = from_elements(partition_html(text=cleaned, **NO_LANGUAGE_DETECTION), "html", title=title)
    # The service-public description paragraph repeats the introduction word for word.
    document.blocks = _drop_repeats(document.blocks)
    document.doc_date = find_date(meta.get("dc.date", "") or meta.get("date", ""))
    document.notes.extend(notes)
    return document


def _plain_text_document(tree, title: str) -> LoadedDocument:
    pieces: list[str] = []
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCK_TAGS:
            pieces.append("\n\n")
        if element.text:
            pieces.append(element.text)
        if element.tail:
            pieces.append(element.tail)
    text, _ = break_long_lines(tidy("".join(pieces)), separator="\n\n")
    return LoadedDocument(title=title, format="html", blocks=[Block(p) for p in paragraphs(text)])


def _broken_note(count: int) -> str:
    if count == 1:
        return "1 ligne très longue (plus de 20 000 caractères) découpée pour être lue."
    return f"{count} lignes très longues (plus de 20 000 caractères) découpées pour être lues."


class _Flattener(HTMLParser):
    """Rewrites HTML keeping tags down to MAX_HTML_DEPTH only (Python's parser has no depth limit)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.flattened = False

    @classmethod
    def flatten(cls, text: str) -> str | None:
        """The flattened page, or None when no part of it is deeper than the limit."""
        if text.count("<") < MAX_HTML_DEPTH:
            return None
        parser = cls()
        parser.feed(text)
        parser.close()
        return "".join(parser.out) if parser.flattened else None

    def handle_starttag(self, tag, attrs):
        if tag in _SELF_CLOSING_SIBLINGS and self.stack and self.stack[-1] == tag:
            self.stack.pop()
        kept = len(self.stack) < MAX_HTML_DEPTH
        if kept:
            rendered = "".join(f' {name}="{html_escape.escape(value or "", quote=True)}"' for name, value in attrs)
            self.out.append(f"<{tag}{rendered}>")
        else:
            self.flattened = True
            if tag in {"p", "div", "li", "br", "tr"}:
                self.out.append("\n")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            if len(self.stack) < MAX_HTML_DEPTH:
                self.out.append(f"</{open_tag}>")
            if open_tag == tag:
                return

    def handle_data(self, data):
        self.out.append(html_escape.escape(data, quote=False))

    def handle_decl(self, decl):
        self.out.append(f"<!{decl}>")


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
    import markdown
    from unstructured.partition.html import partition_html

    decoded = decode(path.read_bytes())
    text, broken = break_long_lines(decoded.text, separator="\n\n")  # paragraphs: Markdown joins lines
    front = {}
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            front[key.strip().lower()] = value.strip().strip("'\"")
        text = text[match.end() :]
    # VuePress containers (::: tip) are markup, not content.
    text = re.sub(r"^:::.*$", "", text, flags=re.MULTILINE)
    text, hidden = strip_comments(text)
    text, hidden_elements = _without_hidden_html(text)
    hidden += hidden_elements
    if not text.strip():
        raise DocumentError("Document Markdown sans contenu (seulement un en-tête).")
    # Markdown becomes HTML (as unstructured's partition_md does it) and goes through the HTML flattener: raw
    # <div> nested 300 deep, or quotes nested 10,000 deep, would otherwise lose their text below libxml2's depth.
    # Quotes nested past any meaning (« >>>>… » ten thousand deep): the markers past the limit are dropped; Python-
    # Markdown would leave them in the text as « > » characters, and the line would read as symbol soup.
    text, deep_quotes = _DEEP_QUOTE.subn("> " * _MAX_QUOTE_DEPTH, text)
    elements, flattened = [], deep_quotes > 0
    for section in _sections(text):
        page = markdown.markdown(section, extensions=["tables", "fenced_code"])
        flat = _Flattener.flatten(page)
        flattened = flattened or flat is not None
        elements += partition_html(text=flat or page, **NO_LANGUAGE_DETECTION)
    document = from_elements(elements, "md", title=front.get("title", ""))
    document.doc_date = find_date(front.get("date", ""))
    notes = [
        decoded.note,
        _broken_note(broken) if broken else None,
        hidden_note(hidden) if hidden else None,
        _FLATTENED_NOTE if flattened else None,
    ]
    document.notes.extend(note for note in notes if note)
    return document


_HTML_IN_MARKDOWN = re.compile(r"<(\w+)\b[^>]*>.*?</\1\s*>", re.DOTALL)


def _without_hidden_html(markdown: str) -> tuple[str, int]:
    """Raw HTML inside Markdown (allowed by the format) that hides its text: removed, counted."""
    from lxml import html as lxml_html

    dropped = 0

    def visible(match: re.Match) -> str:
        nonlocal dropped
        fragment = match.group(0)
        if "hidden" not in fragment.lower() and "style" not in fragment.lower() and "<template" not in fragment:
            return fragment
        try:
            tree = lxml_html.fragment_fromstring(fragment, create_parent="div")
        except Exception:  # not HTML after all: left as the author wrote it
            return fragment
        count = drop_hidden(tree)
        if not count:
            return fragment
        dropped += count
        return " ".join(tree.text_content().split())

    return _HTML_IN_MARKDOWN.sub(visible, markdown), dropped


def _sections(markdown: str, size: int = MAX_STRUCTURED_CHARS // 2) -> list[str]:
    """Markdown cut between paragraphs into parts unstructured reads whole (see MAX_STRUCTURED_CHARS)."""
    if len(markdown) <= size:
        return [markdown]
    sections, current, length = [], [], 0
    for paragraph in markdown.split("\n\n"):
        if current and length + len(paragraph) > size:
            sections.append("\n\n".join(current))
            current, length = [], 0
        current.append(paragraph)
        length += len(paragraph) + 2
    sections.append("\n\n".join(current))
    return sections
