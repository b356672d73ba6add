"""Discover: the files of the corpus (or of some of its folders), each with its service."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ingest.documents import SourceFile
from sourcier.errors import ConfigurationError

ROOT_SERVICE = "general"
_IGNORED_NAMES = {"Thumbs.db", "desktop.ini"}
_CORPUS_NOTES = {"SOURCES.md", "README.md"}  # at the corpus root only: notes about the corpus, not documents


def discover(corpus_dir: Path, paths: Iterable[Path] = ()) -> list[SourceFile]:
    """Every regular file under `paths` (default: the whole corpus), sorted; hidden files are skipped."""
    root = corpus_dir.resolve()
    if not root.is_dir():
        raise ConfigurationError(f"Le dossier du corpus n'existe pas : {corpus_dir}")
    targets = [Path(p).resolve() for p in paths] or [root]
    found: dict[str, SourceFile] = {}
    for target in targets:
        if not target.exists():
            raise ConfigurationError(f"Chemin introuvable : {target}")
        if target != root and root not in target.parents:
            raise ConfigurationError(f"{target} est hors du corpus ({root}) : copiez-le dans le corpus d'abord.")
        candidates = [target] if target.is_file() else sorted(target.rglob("*"))
        for path in candidates:
            relative = path.relative_to(root)
            if not path.is_file() or path.is_symlink() or _hidden(relative) or path.name in _IGNORED_NAMES:
                continue
            if len(relative.parts) == 1 and path.name in _CORPUS_NOTES:
                continue
            key = relative.as_posix()
            service = relative.parts[0] if len(relative.parts) > 1 else ROOT_SERVICE
            found[key] = SourceFile(path=path, relative_path=key, service=service, size=path.stat().st_size)
    return [found[key] for key in sorted(found)]


def in_scope(relative_path: str, corpus_dir: Path, paths: Iterable[Path]) -> bool:
    """Whether a known document lies under the paths of this run (so it may be declared deleted)."""
    root = corpus_dir.resolve()
    scopes = [Path(p).resolve() for p in paths]
    if not scopes:
        return True
    absolute = root / relative_path
    return any(absolute == scope or scope in absolute.parents for scope in scopes)


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "~$")) for part in relative.parts)
