"""Uploads from the admin page: what is written, where, and what is refused (and that nothing leaves the corpus)."""

import pytest

from ingest.uploads import save_upload
from sourcier.access import AccessPolicy, Reader
from sourcier.errors import AccessDeniedError, UploadRejectedError
from tests.conftest import make_settings

ADMIN = Reader.system()


@pytest.fixture
def settings(tmp_path):
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    return settings


def test_a_file_lands_in_its_service_folder_with_a_clean_name(settings):
    path = save_upload(settings, "État civil", "Procédure mariage (v2).docx", b"PK\x03\x04 data", reader=ADMIN)
    assert path == settings.corpus_dir.resolve() / "État civil" / "Procédure mariage (v2).docx"
    assert path.read_bytes() == b"PK\x03\x04 data"
    assert not list(path.parent.glob(".*.part"))


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil.md", "..\\..\\evil.md", "/etc/evil.md", "sub/../../evil.md"])
def test_no_name_can_leave_the_corpus(settings, name):
    path = save_upload(settings, "../rh", name, b"# titre", reader=ADMIN)
    assert settings.corpus_dir.resolve() in path.parents
    assert path.parent.name == "rh" and path.name == "evil.md"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("virus.exe", b"MZ", "non pris en charge"),
        ("sans-extension", b"x", "sans extension"),
        ("vide.pdf", b"", "vide"),
        ("..", b"x", "non pris en charge"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(settings, name, data, message):
    with pytest.raises(UploadRejectedError, match=message):
        save_upload(settings, "rh", name, data, reader=ADMIN)
    assert not any(settings.corpus_dir.rglob("*.*"))


def test_size_limit_and_existing_files(settings):
    settings.ui.upload_max_mb = 0.001
    with pytest.raises(UploadRejectedError, match="taille maximale"):
        save_upload(settings, "rh", "gros.txt", b"x" * 2000, reader=ADMIN)
    settings.ui.upload_max_mb = 50
    save_upload(settings, "rh", "note.txt", b"v1", reader=ADMIN)
    with pytest.raises(UploadRejectedError, match="existe déjà"):
        save_upload(settings, "rh", "note.txt", b"v2", reader=ADMIN)
    assert save_upload(settings, "rh", "note.txt", b"v2", reader=ADMIN, replace=True).read_bytes() == b"v2"


def test_only_referents_of_a_service_upload_into_it(tmp_path):
    settings = make_settings(tmp_path)
    policy = AccessPolicy.from_dict({"services": {"rh": ["rh"]}, "referents": {"rh": ["rh-referents"]}})
    referent = policy.reader("claire", ["rh-referents"])
    agent = policy.reader("paul", ["rh"])
    assert save_upload(settings, "rh", "note.txt", b"v1", reader=referent).exists()
    with pytest.raises(AccessDeniedError, match="urbanisme"):
        save_upload(settings, "urbanisme", "note.txt", b"v1", reader=referent)
    with pytest.raises(AccessDeniedError):
        save_upload(settings, "rh", "autre.txt", b"v1", reader=agent)
    with pytest.raises(AccessDeniedError):  # a path that would leave the service is not the service
        save_upload(settings, "rh/../urbanisme", "autre.txt", b"v1", reader=referent)
    assert not (settings.corpus_dir / "urbanisme").exists()


def test_a_referent_cannot_overwrite_a_document_of_their_service_closed_to_them(tmp_path):
    settings = make_settings(tmp_path)
    (tmp_path / "acces.toml").write_text('[services]\nrh = ["rh"]\n[referents]\nrh = ["rh-referents"]\n')
    settings.access.policy = tmp_path / "acces.toml"
    referent = AccessPolicy.load(settings.access.policy).reader("claire", ["rh-referents"])
    folder = settings.corpus_dir / "rh"
    folder.mkdir(parents=True)
    (folder / "dossier-agent.txt").write_text("Dossier confidentiel.")
    (folder / "dossier-agent.txt.acces.toml").write_text("groupes = []\n")  # admins only
    with pytest.raises(AccessDeniedError, match="ne vous est pas ouvert"):
        save_upload(settings, "rh", "dossier-agent.txt", b"remplace", reader=referent, replace=True)
    assert (folder / "dossier-agent.txt").read_text() == "Dossier confidentiel."
    (folder / "note.txt").write_text("v1")
    assert save_upload(settings, "rh", "note.txt", b"v2", reader=referent, replace=True).read_bytes() == b"v2"
