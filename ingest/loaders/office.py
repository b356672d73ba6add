"""Word processing: DOCX and ODT through unstructured (tables included); legacy .doc converted by LibreOffice."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ingest.documents import LoadedDocument
from ingest.loaders.common import LoadOptions
from ingest.loaders.elements import NO_LANGUAGE_DETECTION, from_elements, unstructured_ready
from sourcier.errors import DocumentError, UnsupportedFormatError


def load_docx(path: Path, options: LoadOptions) -> LoadedDocument:
    unstructured_ready()
    from unstructured.partition.docx import partition_docx

    try:
        elements = partition_docx(filename=str(path), infer_table_structure=True, **NO_LANGUAGE_DETECTION)
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentError("DOCX endommagé : une partie du document manque ou est illisible.") from exc
    # The core-properties title is usually a leftover of the template the file was made from: not used.
    return from_elements(elements, "docx")


def load_odt(path: Path, options: LoadOptions) -> LoadedDocument:
    unstructured_ready()
    from unstructured.partition.odt import partition_odt

    return from_elements(partition_odt(filename=str(path), infer_table_structure=True, **NO_LANGUAGE_DETECTION), "odt")


def libreoffice() -> str | None:
    """LibreOffice's command, when installed: legacy .doc files can be read only then."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def load_doc(path: Path, options: LoadOptions) -> LoadedDocument:
    """Legacy Word: converted by LibreOffice when it is installed, never guessed at."""
    soffice = libreoffice()
    if soffice is None:
        raise UnsupportedFormatError(
            "Format Word ancien (.doc) : installez LibreOffice (paquet libreoffice-writer) pour le convertir, "
            "ou enregistrez-le en .docx."
        )
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [
                soffice,
                "--headless",
                "--norestore",
                f"-env:UserInstallation=file://{tmp}/profile",
                "--convert-to",
                "docx",
                "--outdir",
                tmp,
                str(path),
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        converted = Path(tmp) / (path.stem + ".docx")
        if result.returncode != 0 or not converted.exists():
            raise DocumentError("Conversion LibreOffice du .doc impossible (fichier endommagé ?).")
        document = load_docx(converted, options)
    document.format = "doc"
    return document
