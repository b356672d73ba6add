"""Command start benchmark (`make bench`): prints figures, asserts nothing.

What an admin or an agent waits for at the command line, where every command is a new process that loads what it
needs: `sourcier ingest` of three demo fiches into a fresh index, then `sourcier ask --json` (the Ollama protocol
stand-in answers at once, so the figure is Sourcier's own: imports, models, retrieval, the checks). Median, minimum
and maximum of `--runs` runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.ollama_standin import OllamaStandIn

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Combien de temps dure le congé de maladie ordinaire d'un fonctionnaire ?"


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ui.cli", *command], cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    standin = OllamaStandIn(models=["qwen2.5:7b-instruct"])
    figures: dict[str, list[float]] = {"ingest (3 fiches, fresh index)": [], "ask --json": []}
    try:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                root = Path(folder)
                for relative in ("elections/F1965.html", "rh/F544.html", "rh/F490.html"):
                    (root / "corpus" / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(REPO / "corpus" / relative, root / "corpus" / relative)
                env = {
                    "PATH": "/usr/bin:/bin",
                    "HOME": str(root),
                    "SOURCIER_CORPUS_DIR": str(root / "corpus"),
                    "SOURCIER_STORE__PATH": str(root / "vectorstore"),
                    "SOURCIER_EMBEDDING__MODELS_DIR": str(REPO / "models"),
                    "SOURCIER_LLM__BACKEND": "ollama",
                    "SOURCIER_LLM__OLLAMA_HOST": standin.url,
                }
                figures["ingest (3 fiches, fresh index)"].append(_timed(["ingest", "--quiet"], env))
                figures["ask --json"].append(_timed(["ask", QUESTION, "--json"], env))
    finally:
        standin.close()
    for name, values in figures.items():
        print(f"{name:<34} median {statistics.median(values):5.1f} s (min {min(values):.1f}, max {max(values):.1f})")


if __name__ == "__main__":
    main()
