"""Terminal progress for ingestion (tqdm): the phase, files and chunks, with rate and time left."""

from __future__ import annotations

import sys

from tqdm import tqdm

from ingest.progress import Phase, Progress


class TerminalProgress:
    def __init__(self, disabled: bool = False) -> None:
        self.disabled = disabled
        self._files: tqdm | None = None
        self._chunks: tqdm | None = None

    def announce(self) -> None:
        """Before anything else: the first seconds go to loading the model and reading the corpus."""
        if not self.disabled:
            print("Préparation : chargement du modèle d'indexation et examen du corpus…", file=sys.stderr, flush=True)

    def __call__(self, progress: Progress) -> None:
        if self.disabled:
            return
        if progress.phase in {Phase.PREPARING, Phase.SCANNING} and not progress.files_total:
            return
        if self._files is None:
            self._files = tqdm(total=progress.files_total, unit=" fichier", dynamic_ncols=True)
            self._chunks = tqdm(desc="Extraits indexés", unit=" extrait", dynamic_ncols=True)
        # Files count once stored; until then the phase and the file being read show that work goes on.
        self._files.set_description(f"Fichiers ({Phase(progress.phase).label})", refresh=False)
        self._files.total = progress.files_total
        self._files.update(progress.files_done - self._files.n)
        self._chunks.update(progress.chunks_done - self._chunks.n)
        self._files.set_postfix_str(progress.current_file[-50:], refresh=True)

    def close(self) -> None:
        for bar in (self._files, self._chunks):
            if bar is not None:
                bar.close()
