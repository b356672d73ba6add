"""Layers point one way (the contract is in pyproject.toml, checked by import-linter): an import that goes up fails."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["sourcier", "ingest", "rag", "quality", "falc", "evaluation", "api", "ui"]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the packages under `root` are the ones analysed, not the installed checkout.
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layers_contract_is_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_that_goes_up_breaks_the_contract(tmp_path):
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    clock = tmp_path / "sourcier" / "clock.py"
    clock.write_text(clock.read_text() + "\nfrom rag.retrieve import reciprocal_rank_fusion  # noqa: E402,F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "sourcier.clock -> rag.retrieve" in result.stdout, result.stdout
