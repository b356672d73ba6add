"""Files added from the app: validated and written into a service folder of the corpus, never outside it."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sourcier.access import AccessPolicy, Reader
from sourcier.errors import AccessDeniedError, UploadRejectedError
from sourcier.settings import Settings

_UNSAFE = re.compile(r"[^\w.\- ()'’]+")


def safe_name(name: str, what: str = "nom de fichier") -> str:
    """One path component made of letters, digits and a little punctuation; no way to climb out of a folder."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name or name in {".", ".."}:
        raise UploadRejectedError(f"Le {what} est vide ou invalide.")
    return name[:150]


def upload_limit_mb(settings: Settings) -> float:
    """The largest file the app accepts: the upload limit, within what ingestion reads at all."""
    return min(settings.ui.upload_max_mb, settings.ingest.max_file_mb)


def save_upload(
    settings: Settings, service: str, filename: str, data: bytes, reader: Reader, replace: bool = False
) -> Path:
    """Write an uploaded file into a service's folder of the corpus: admins anywhere, a referent into the services
    they answer for, nobody else."""
    if not reader.answers_for(safe_name(service, "nom de service")):
        raise AccessDeniedError(f"Vous ne pouvez pas déposer de document dans le service « {service} ».")
    extension = Path(filename).suffix.lower()
    allowed = settings.ingest.extensions
    if extension not in allowed:
        raise UploadRejectedError(
            f"« {filename} » : format {extension or 'sans extension'} non pris en charge "
            f"(acceptés : {', '.join(allowed)})."
        )
    limit = upload_limit_mb(settings)
    if len(data) > limit * 1024 * 1024:
        raise UploadRejectedError(f"« {filename} » dépasse la taille maximale de {limit:g} Mo.")
    if not data:
        raise UploadRejectedError(f"« {filename} » est vide.")
    root = settings.corpus_dir.resolve()
    folder = root / safe_name(service, "nom de service")
    target = folder / safe_name(filename)
    if target.resolve().parent != folder.resolve() or root not in target.resolve().parents:
        raise UploadRejectedError(f"« {filename} » : chemin refusé.")
    if target.exists() and not replace:
        raise UploadRejectedError(
            f"« {target.name} » existe déjà dans {folder.name} : cochez « remplacer » pour le mettre à jour."
        )
    if target.exists() and not reader.may_read(
        AccessPolicy.load(settings.access.policy).document_groups(target.relative_to(root).as_posix(), root)
    ):  # a document of their service that its sidecar closes to them: not theirs to overwrite
        raise AccessDeniedError(f"Vous ne pouvez pas remplacer « {target.name} » : ce document ne vous est pas ouvert.")
    folder.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part")
    temporary.write_bytes(data)
    temporary.replace(target)  # an ingestion running meanwhile never sees half a file
    return target
