"""Text a reader of the page never sees — `display:none`, `hidden`, zero-size or transparent text, text pushed off
the page, HTML comments, templates — is not document content: a sentence planted there for an assistant would
otherwise be indexed and read by the model as if it were part of the page. It is removed before parsing, and counted
so that the ingestion report says so."""

from __future__ import annotations

import re

# Declarations that hide an element from sight, whatever else the style says.
_HIDING = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|opacity\s*:\s*0(?:\.0+)?\s*(?:;|!|$)"
    r"|font-size\s*:\s*0(?:\.0+)?[a-z%]*\s*(?:;|!|$)|(?:left|top|right|text-indent|margin-left)\s*:\s*-\d{3,}"
    r"|clip\s*:\s*rect\(\s*0|clip-path\s*:\s*inset\(\s*(?:50|100)%|color\s*:\s*transparent",
    re.IGNORECASE,
)
_WHITE = r"(?:#fff(?:fff)?|white|rgba?\(\s*255\s*,\s*255\s*,\s*255)"
_WHITE_TEXT = re.compile(rf"(?<![-\w])color\s*:\s*{_WHITE}", re.IGNORECASE)
_WHITE_BACKGROUND = re.compile(rf"background(?:-color)?\s*:\s*{_WHITE}", re.IGNORECASE)
_ZERO_BOX = re.compile(r"(?<![-\w])(?:width|height)\s*:\s*0(?:px)?\s*(?:;|!|$)", re.IGNORECASE)


def hides(style: str) -> bool:
    """Whether a style hides its element's text from a reader: not displayed, invisible, transparent, zero-size,
    pushed off the page, or white on white."""
    if _HIDING.search(style):
        return True
    if _WHITE_TEXT.search(style) and _WHITE_BACKGROUND.search(style):
        return True
    return bool(_ZERO_BOX.search(style)) and "overflow" in style.lower() and "hidden" in style.lower()


# Class rules of the page's own style sheets that hide (`.x { display: none }`).
_HIDING_RULE = re.compile(r"\.([\w-]+)\s*(?:,[^{]*)?\{([^}]*)\}")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def hiding_classes(tree) -> set[str]:
    classes: set[str] = set()
    for style in tree.xpath("//style/text()"):
        for name, body in _HIDING_RULE.findall(style):
            if hides(body):
                classes.add(name)
    return classes


def drop_hidden(tree) -> int:
    """Removes from an lxml tree every element hidden from readers; returns how many held text."""
    classes = hiding_classes(tree)
    hidden = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        style = element.get("style") or ""
        own_classes = set((element.get("class") or "").split())
        if (
            element.tag in {"template"}
            or element.get("hidden") is not None
            or (element.tag == "input" and (element.get("type") or "").lower() == "hidden")
            or hides(style)
            or own_classes & classes
        ):
            hidden.append(element)
    dropped = 0
    for element in hidden:
        if element.getparent() is None:
            continue  # inside an element already dropped
        if " ".join(element.text_content().split()):
            dropped += 1
        element.drop_tree()
    return dropped


def strip_comments(text: str) -> tuple[str, int]:
    """Markup text without its HTML comments, and how many held words."""
    counted = sum(1 for comment in _COMMENT.findall(text) if re.search(r"\w{3,}", comment))
    return _COMMENT.sub("", text), counted


def hidden_note(count: int) -> str:
    passages = "1 passage masqué" if count == 1 else f"{count} passages masqués"
    return (
        f"Texte invisible pour un lecteur écarté ({passages} : commentaire, élément caché, texte transparent ou hors "
        "de la page) : il n'est ni indexé ni lu par l'assistant."
    )
