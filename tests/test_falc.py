"""FALC end to end: the `sourcier falc` command reads real fiches with the ingestion's loader and rewrites them with
the real embedded model (llama.cpp + Qwen2.5 1.5B); the page is tested in tests/test_app.py."""

import re

import pytest

from falc.facts import compare
from falc.source import read
from tests.conftest import DATA, free_port, make_settings
from tests.test_cli import sourcier

AID = DATA / "aides_jeunes_aides_locales" / "md" / "bretagne-aide-code-permis.md"


def _fiche(folder):
    """The aid fiche without its machine criteria (YAML for a simulator, not text for people)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "permis.md"
    path.write_text(re.split(r"^## Critères \(machine\)", AID.read_text(encoding="utf-8"), flags=re.M)[0])
    return path


@pytest.mark.slow
def test_a_folder_becomes_checked_drafts_and_a_broken_file_is_skipped_with_its_reason(tmp_path):
    fiche = _fiche(tmp_path / "guide")
    (tmp_path / "guide" / "casse.pdf").write_bytes(b"ceci n'est pas un PDF")
    result = sourcier(
        tmp_path, "falc", str(tmp_path / "guide"), "--output", str(tmp_path / "out"),
        SOURCIER_LLM__BACKEND="embedded", SOURCIER_LLM__EMBEDDED_PORT=str(free_port()),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # one file could not be read
    assert "casse.pdf : illisible, ignoré — Ce fichier n'est pas un PDF" in result.stderr
    summary = re.search(r"permis\.md : (\d+) passages?, (\d+) passages? à réécrire", result.stdout)
    assert summary, result.stdout + result.stderr
    assert int(summary.group(2)) < int(summary.group(1)), "the model rewrote no passage"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "permis.falc.docx", "permis.falc.md", "permis.falc.odt",
    ]  # fmt: skip
    draft = (tmp_path / "out" / "permis.falc.md").read_text(encoding="utf-8")
    assert "handicap intellectuel" in draft
    source = read(fiche, make_settings(tmp_path))
    check = compare("\n".join(p for s in source.sections for p in s.passages), draft)
    assert not check.missing and not check.invented, check


def test_a_path_that_does_not_exist_is_named(tmp_path):
    result = sourcier(tmp_path, "falc", str(tmp_path / "absent.pdf"))
    assert result.returncode == 1
    assert "Fichier ou dossier introuvable" in result.stderr
