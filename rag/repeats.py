"""Stop an answer that writes the same line again.

A small model can loop: asked « Quel est le montant de la gratification d'un stagiaire en 2020 ? », the 1.5B model
wrote « - De 2 manières : » forty times over, until its token limit (15 s more of waiting, a wall of text); on the FAQ
it wrote a whole list twice. No answer needs one line twice: the first line that repeats an earlier one (markers,
case and spacing aside) ends the answer, and is never shown — while a line being written still reads like the start
of an earlier one, it is held back.
"""

from __future__ import annotations

import re

_MARKERS = re.compile(r"\[\d+\]")
_MARKER_BEING_WRITTEN = re.compile(r"\[\d*$")


def _key(line: str) -> str:
    return " ".join(_MARKERS.sub(" ", line).casefold().split())


class RepeatGuard:
    """Fed the model's text piece by piece; says what may be shown, and when a line repeats (`repeated`: stop
    asking the model for more). `text` is the answer so far, without the repeated line."""

    def __init__(self) -> None:
        self.text = ""
        self.repeated = False
        self._shown = 0

    def feed(self, piece: str) -> str:
        """What of the text may be shown now that `piece` was written (may be empty: held back)."""
        if self.repeated:
            return ""
        self.text += piece
        return self._release(final=False)

    def finish(self) -> str:
        """What was still held back when the model stopped (its last line, unless it repeats an earlier one)."""
        return "" if self.repeated else self._release(final=True)

    def _release(self, final: bool) -> str:
        lines = self.text.split("\n")
        complete = lines if final else lines[:-1]
        earlier: set[str] = set()
        start = 0  # where the line being looked at starts in `text`
        for line in complete:
            key = _key(line)
            if key in earlier:
                self.text, self.repeated = self.text[:start].rstrip(" "), True
                break
            if key:
                earlier.add(key)
            start += len(line) + 1
        visible = len(self.text)
        if not self.repeated and not final:
            writing = _key(_MARKER_BEING_WRITTEN.sub("", lines[-1]))
            if writing and any(key.startswith(writing) for key in earlier):
                visible = start
        released, self._shown = self.text[self._shown : visible], max(self._shown, visible)
        return released
