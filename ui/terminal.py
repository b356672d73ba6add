"""Terminal progress for ingestion (tqdm): files and chunks, with rate and ETA."""

from __future__ import annotations

from tqdm import tqdm

from ingest.progress import Phase, Progress


class TerminalProgress:
    def __init__(self, disabled: bool = False) -> None:
        self.disabled = disabled
        self._files: tqdm | None = None
        self._chunks: tqdm | None = None

    def __call__(self, progress: Progress) -> None:
        if self.disabled or progress.phase in {Phase.PREPARING, Phase.SCANNING} and not progress.files_total:
            return
        if self._files is None:
            self._files = tqdm(total=progress.files_total, desc="Fichiers", unit="fichier", dynamic_ncols=True)
            self._chunks = tqdm(desc="Extraits", unit="extrait", dynamic_ncols=True)
        self._files.total = progress.files_total
        self._files.update(progress.files_done - self._files.n)
        self._chunks.update(progress.chunks_done - self._chunks.n)
        self._files.set_postfix_str(progress.current_file[-50:], refresh=False)

    def close(self) -> None:
        for bar in (self._files, self._chunks):
            if bar is not None:
                bar.close()
