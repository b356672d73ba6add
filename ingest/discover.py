"""Discover: the files of the corpus (or of some of its folders), each with its service — and a word for the rest.

Every entry of the corpus tree ends up somewhere: a `SourceFile` to load, or a `Skipped` line with its reason
(symbolic links, special files, hidden files, names that are not valid UTF-8), so that the ingestion report accounts
for everything an admin put in the corpus.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.documents import SourceFile
from sourcier.access import is_sidecar
from sourcier.errors import ConfigurationError

ROOT_SERVICE = "general"
_IGNORED_NAMES = {"Thumbs.db", "desktop.ini", ".DS_Store"}  # made by file managers, never documents
_CORPUS_NOTES = {"SOURCES.md", "README.md"}  # at the corpus root only: notes about the corpus, not documents


@dataclass(frozen=True)
class Skipped:
    path: str  # relative to the corpus, printable
    reason: str  # French, for the admin
    problem: bool  # something the admin must fix (a document will not be searched), not just a lock file


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def printable(relative: Path) -> tuple[str, bool]:
    """The POSIX path as text, and whether it is valid UTF-8 (names copied from old Windows shares often are not:
    Python keeps their bytes as surrogates, which no database or JSON file can store). An invalid name shows its
    bytes (« \\xe9l\\xe8ve.txt »): two entries never share a line, not even beside a valid « élève.txt »."""
    text = relative.as_posix()
    try:
        text.encode("utf-8")
        return text, True
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace"), False


def _readable_guess(name: str) -> str:
    """What an invalid name most likely said (old Windows shares wrote cp1252): the name to suggest."""
    return os.fsencode(name).decode("cp1252", errors="replace").replace("\ufffd", "_")


def discover(corpus_dir: Path, paths: Iterable[Path] = ()) -> Discovery:
    """Every regular file under `paths` (default: the whole corpus), sorted, and what was left out and why."""
    root = corpus_dir.resolve()
    if not root.is_dir():
        raise ConfigurationError(f"Le dossier du corpus n'existe pas : {corpus_dir}")
    targets = [Path(p).resolve() for p in paths] or [root]
    found: dict[str, SourceFile] = {}
    skipped: dict[str, Skipped] = {}
    for target in targets:
        if not target.exists():
            raise ConfigurationError(f"Chemin introuvable : {target}")
        if target != root and root not in target.parents:
            raise ConfigurationError(f"{target} est hors du corpus ({root}) : copiez-le dans le corpus d'abord.")
        unreadable: list[tuple[Path, OSError]] = []
        for path in [target] if target.is_file() else _walk(target, unreadable):
            relative = path.relative_to(root)
            key, valid = printable(relative)
            if len(relative.parts) == 1 and path.name in _CORPUS_NOTES:
                continue  # notes about the corpus, put there on purpose
            try:
                skip = _why_skipped(path, relative, valid)
                if skip:
                    skipped[key] = Skipped(key, *skip)
                    continue
                size = path.stat().st_size
            except OSError as error:  # gone since it was listed, unreadable, a path too long…
                skipped[key] = Skipped(key, path_error(error, "fichier"), True)
                continue
            service = relative.parts[0] if len(relative.parts) > 1 else ROOT_SERVICE
            found[key] = SourceFile(path=path, relative_path=key, service=service, size=size)
        for folder, error in unreadable:
            key = printable(folder.relative_to(root))[0]
            skipped[key] = Skipped(key, path_error(error, "dossier"), True)
    return Discovery([found[key] for key in sorted(found)], [skipped[key] for key in sorted(skipped)])


def _walk(folder: Path, unreadable: list[tuple[Path, OSError]]) -> Iterable[Path]:
    """Entries below `folder`; hidden folders are reported once, not entered; links are never followed; a folder
    that cannot be listed goes to `unreadable` and the walk goes on."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
    except OSError as error:
        unreadable.append((folder, error))
        return
    for entry in entries:
        try:
            enter = entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".")
        except OSError:
            enter = False  # reported with its own error when it is looked at
        if enter:
            yield from _walk(entry, unreadable)
        else:
            yield entry


def path_error(error: OSError, what: str) -> str:
    """An OS error on a corpus entry, as a line of the report (French)."""
    reasons = {
        errno.ENOENT: f"{what.capitalize()} disparu pendant l'ingestion (supprimé ou déplacé entre-temps)",
        errno.EACCES: f"{what.capitalize()} illisible : droits insuffisants pour le compte de Sourcier",
        errno.EPERM: f"{what.capitalize()} illisible : droits insuffisants pour le compte de Sourcier",
        errno.ENAMETOOLONG: f"Chemin trop long pour le système de fichiers : raccourcissez le nom du {what}",
        errno.ELOOP: "Trop de liens symboliques imbriqués",
    }
    reason = reasons.get(error.errno, f"{what.capitalize()} illisible (erreur système {error.errno})")
    return reason + " ; la dernière version indexée, s'il y en a une, est conservée."


def _why_skipped(path: Path, relative: Path, valid_name: bool) -> tuple[str, bool] | None:
    """(reason, problem) for an entry that is not loaded, None for a file to load."""
    if not valid_name:
        # The first part of the path that is not UTF-8 is the one to rename: often a folder, not the file.
        index = next(i for i, part in enumerate(relative.parts) if not printable(Path(part))[1])
        is_folder = index < len(relative.parts) - 1 or path.is_dir()
        return (
            f"Nom de {'dossier' if is_folder else 'fichier'} illisible (encodage autre que UTF-8, copié d'un ancien "
            f"serveur ?) : renommez {'le dossier' if is_folder else 'le fichier'} en « "
            f"{_readable_guess(relative.parts[index])} » par exemple, puis relancez l'ingestion.",
            True,
        )
    if path.is_symlink():
        return "Lien symbolique non suivi : copiez le document lui-même dans le corpus.", True
    if any(part.startswith((".", "~$")) for part in relative.parts) or path.name in _IGNORED_NAMES:
        return ("Dossier caché ignoré." if path.is_dir() else "Fichier caché ou temporaire ignoré."), False
    if is_sidecar(path):
        return "Droits d'accès du document voisin : réglage lu à l'ingestion, non indexé.", False
    if not stat.S_ISREG(path.lstat().st_mode):
        return "Fichier spécial (tube, socket ou périphérique) ignoré : ce n'est pas un document.", True
    return None


def in_scope(relative_path: str, corpus_dir: Path, paths: Iterable[Path]) -> bool:
    """Whether a known document lies under the paths of this run (so it may be declared deleted)."""
    root = corpus_dir.resolve()
    scopes = [Path(p).resolve() for p in paths]
    if not scopes:
        return True
    absolute = root / relative_path
    return any(absolute == scope or scope in absolute.parents for scope in scopes)
