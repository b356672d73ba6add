"""Decoding, long lines, deep markup, garbled text, progress and corpus walking: the pure parts of hostile input."""

import json
import os
from pathlib import Path

import pytest

from ingest.discover import discover
from ingest.loaders.common import break_long_lines
from ingest.loaders.markup import MAX_HTML_DEPTH, _Flattener, declared_charset
from ingest.loaders.text import decode
from ingest.progress import Phase, Progress, ProgressFile
from quality.extraction import garbled_reasons
from sourcier.errors import DocumentError

FRENCH = "Le délai de déclaration est fixé à trois mois. Les pièces justificatives sont à fournir au guichet.\n" * 5


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp437", "mac_roman", "utf-7"]
)
def test_french_text_is_decoded_whatever_its_encoding(encoding):
    assert decode(FRENCH.encode(encoding)).text.lstrip("\ufeff") == FRENCH


def test_one_bad_byte_does_not_turn_a_utf8_file_into_windows_1252():
    decoded = decode(FRENCH.encode() + b"Fin \xe9 du texte.")
    assert decoded.encoding == "utf-8" and decoded.text.startswith(FRENCH)
    assert decoded.note == "Texte UTF-8 : 1 caractère endommagé remplacé par « \ufffd »."


def test_binary_data_is_refused():
    with pytest.raises(DocumentError, match="octets binaires"):
        decode(b"\x00\x01\x02\xff" * 100)


def test_declared_charset_of_an_html_page():
    assert declared_charset(b'<html><head><meta charset="ISO-8859-1">') == "cp1252"
    assert declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">') == (
        "windows-1252"
    )
    assert declared_charset(b"<html><head><title>x</title>") is None


def test_long_lines_are_broken_at_spaces_and_nothing_is_lost():
    line = "mot " * 30_000
    text, broken = break_long_lines("début\n" + line + "\nfin", limit=1000)
    assert broken == 1 and max(len(part) for part in text.split("\n")) <= 1000
    assert text.split() == ("début\n" + line + "\nfin").split()
    unbroken, count = break_long_lines("x" * 5000, limit=1000)
    assert count == 1 and unbroken.replace("\n", "") == "x" * 5000
    assert break_long_lines("court", limit=1000) == ("court", 0)


def test_deep_html_is_flattened_below_the_limit_and_keeps_its_text():
    deep = (
        "<html><body>" + "<div>" * 3000 + "<p>profond &amp; gardé</p>" + "</div>" * 3000 + "<p>après</p></body></html>"
    )
    flat = _Flattener.flatten(deep)
    assert flat is not None and flat.count("<div>") == MAX_HTML_DEPTH - 2  # html and body count
    assert "profond &amp; gardé" in flat and "<p>après</p>" in flat
    shallow = "<html><body>" + "<p>un</p>" * 300 + "</body></html>"  # many siblings, no depth
    assert _Flattener.flatten(shallow) is None


@pytest.mark.parametrize(
    "garbled",
    [
        FRENCH.encode("utf-8").decode("cp1252"),  # « dÃ©lai »
        FRENCH.encode("utf-8").decode("cp437"),
        FRENCH.encode("cp437").decode("cp1252", errors="replace"),  # « d‚lai »
        FRENCH.encode("latin-1").decode("mac_roman"),  # « dÈlai »
        FRENCH.encode("koi8-r", errors="replace").decode("ascii"),  # « d?lai »
        FRENCH.encode("utf-7").decode("ascii"),  # « d+AOk-lai »
    ],
)
def test_garbled_text_is_flagged_whatever_went_wrong(garbled):
    assert any("décodés" in reason or "accentuées" in reason for reason in garbled_reasons(garbled))


def test_ordinary_french_with_names_and_symbols_is_not_garbled():
    text = (
        "Article L. 2121-17 du CGCT — « quorum » : 50 % des membres ; coût : 1 500 € (TTC). Mme Nuñez, n° 12, "
        "3ᵉ étage. L’agent a dit « aujourd’hui » ; l’œuvre de façade, Ibáñez et Muñoz. "
    ) * 4
    assert garbled_reasons(text) == []
    assert garbled_reasons(FRENCH) == []


def test_progress_names_a_new_file_at_once(tmp_path):
    path = tmp_path / "progress.json"
    write = ProgressFile(path, interval=3600)
    progress = Progress(phase=Phase.INDEXING, files_total=2, current_file="a.pdf")
    write(progress)
    progress.current_file = "b-slow.pdf"  # within the throttle interval, but another file
    write(progress)
    assert json.loads(path.read_text())["current_file"] == "b-slow.pdf"
    progress.files_done = 1  # same file: throttled
    write(progress)
    assert json.loads(path.read_text())["files_done"] == 0


def test_every_entry_of_the_tree_is_found_or_explained(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "rh").mkdir(parents=True)
    (corpus / "rh" / "note.txt").write_text("note")
    Path(os.fsdecode(bytes(corpus / "rh") + b"/\xe9l\xe8ve.txt")).write_text("note")
    (corpus / "rh" / "lien.txt").symlink_to(corpus / "rh" / "note.txt")
    os.mkfifo(corpus / "rh" / "tube")
    (corpus / "rh" / "Thumbs.db").write_bytes(b"x")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "config").write_text("x")
    (corpus / "README.md").write_text("notes sur le corpus")  # at the root: about the corpus, silently left out
    found = discover(corpus)
    assert [f.relative_path for f in found.files] == ["rh/note.txt"]
    skipped = {s.path: (s.problem, s.reason) for s in found.skipped}
    assert set(skipped) == {"rh/\\xe9l\\xe8ve.txt", "rh/lien.txt", "rh/tube", "rh/Thumbs.db", ".git"}
    invalid = skipped["rh/\\xe9l\\xe8ve.txt"]
    assert invalid[0] and "renommez le fichier en « élève.txt » par exemple" in invalid[1]
    assert skipped["rh/lien.txt"][0] and skipped["rh/tube"][0]
    assert not skipped["rh/Thumbs.db"][0] and not skipped[".git"][0]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_its_byte_order_mark_is_decoded_not_refused_as_binary(encoding):
    # Once refused as « octets binaires »: the NUL check ran before any UTF-16 reading.
    text = "Délai de déclaration : l'acte de naissance est établi sous 5 jours ouvrables.\n" * 20
    decoded = decode(text.encode(encoding))
    assert decoded.text == text and decoded.encoding == encoding and "UTF-16" in decoded.note
