from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import tests.workers  # noqa: F401  (first: it limits threads before torch or numpy is loaded)

# isort: split
import sourcier  # noqa: F401  (offline environment before any third-party import)
from ingest import ocr
from ingest.embed import Embedder
from ingest.live import LiveIndex
from ingest.store import StoredChunk
from sourcier.access import Reader
from sourcier.settings import EmbeddingSettings, Settings, StoreSettings

REPO = Path(__file__).resolve().parents[1]
# Real public documents, in the repository (tests/data/SOURCE.md: origins and licences): a clone runs every test.
DATA = REPO / "tests" / "data"
MODELS = REPO / "models"

FICHES = DATA / "service_public_fiches" / "html" / "particuliers"
PUTANGES = DATA / "putanges_conseil_municipal" / "docs"
COUTHENANS = DATA / "couthenans_commune" / "docs"
ETALAB = DATA / "etalab_guides_md_html"
COURRIERS = DATA / "cdtn_modeles_courriers_docx"


# Four French passages and, in the same order, a question for each worded differently: the embedding tests' pairs.
FRENCH_PASSAGES = [
    "Pour s'inscrire sur la liste électorale, il faut fournir un justificatif de domicile de moins de 3 mois.",
    "La concession funéraire est un emplacement dans un cimetière dont on achète l'usage.",
    "Le compte épargne-temps permet à l'agent territorial de conserver des jours de congés non pris.",
    "Le tarif du repas à la cantine scolaire est fixé par la commune.",
]
FRENCH_QUESTIONS = [
    "Quels papiers pour voter dans ma nouvelle commune ?",
    "Comment acheter une tombe pour ma famille ?",
    "Un fonctionnaire peut-il garder ses jours de repos pour plus tard ?",
    "Combien coûte le déjeuner des enfants à l'école ?",
]

# The access tests' policy: everyone reads elections, only HR reads rh (its referents answer for it), dsi administers.
HR_POLICY = """
everyone = "tous"
admins = ["dsi"]
[services]
elections = ["tous"]
rh = ["rh"]
[referents]
rh = ["rh-referents"]
"""
HR_QUESTION = "Combien de temps dure le congé de maladie ordinaire d'un fonctionnaire ?"


# OCR tests need Debian's tesseract-ocr-fra (`make test` installs it when run as root). Like any skip, a missing
# Tesseract fails the run (below): a green run has tested everything.
requires_tesseract = pytest.mark.skipif(
    not ocr.available(), reason="Tesseract (tesseract-ocr-fra) absent : `make system-packages` l'installe."
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failed one: a run that skipped tests for a missing dependency would pass while testing a
    fraction of the product (a clone without the evaluation data once skipped 152 of 440)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"test ignoré, donc en échec : {reason}"


@pytest.fixture(scope="session")
def embedding_settings() -> EmbeddingSettings:
    return EmbeddingSettings(models_dir=MODELS)


@pytest.fixture(scope="session")
def embedder(embedding_settings) -> Embedder:
    """The real multilingual-e5-small, loaded once for the whole session."""
    return Embedder(embedding_settings)


def make_settings(tmp_path: Path, corpus: Path | None = None, **store) -> Settings:
    return Settings(
        corpus_dir=corpus or tmp_path / "corpus",
        store=StoreSettings(path=tmp_path / "vectorstore", **store),
        embedding=EmbeddingSettings(models_dir=MODELS),
    )


def live_chunks(settings: Settings) -> list[StoredChunk]:
    """What the live index lets a reader see (excluded documents left out)."""
    return list(LiveIndex.open(settings, reader=Reader.system()).chunks())


def copy_into(corpus: Path, service: str, *files: Path) -> list[Path]:
    target = corpus / service
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for file in files:
        copied.append(Path(shutil.copy2(file, target / file.name)))
    return copied


def wait_for_streamlit(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    """Until the app started in `server` answers its health check; fails the test with its stderr otherwise."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    pytest.fail(f"Streamlit n'a pas démarré : {server.stderr.read()[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgreSQL:
    """A real PostgreSQL server from Debian's package, on loopback, in a folder of its own (as the `postgres` user
    when the tests run as root: the server refuses root) — configured as a site's: a role with a password
    (scram-sha-256), TLS required (a certificate of a throwaway authority, checked by the client)."""

    def __init__(self) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            pytest.fail("PostgreSQL absent : `make system-packages` l'installe (paquet postgresql).")
        self.bin = binaries[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="sourcier-pg-"))  # not under pytest's root-only folder
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        environment = {**os.environ, "PGPASSWORD": self.password, "PGSSLMODE": "require"}
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120, env=environment)

    def start(self) -> PostgreSQL:
        from tests.tls_proxy import certificates

        data = self.root / "data"
        self.ca_file = certificates(self.root)
        (self.root / "password").write_text(self.password)
        self.root.chmod(0o755)
        if self.as_user:
            for path in [self.root, *self.root.iterdir()]:
                shutil.chown(path, "postgres", "postgres")
        (self.root / "server.key").chmod(0o600)
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "-U", "sourcier", "--auth=scram-sha-256",
            f"--pwfile={self.root / 'password'}", "-E", "UTF8",
        )  # fmt: skip
        # TLS or nothing over the network: a connection in clear is rejected before any password is asked.
        rules = [
            "local all all scram-sha-256",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
            "hostnossl all all all reject",
        ]
        (data / "pg_hba.conf").write_text("\n".join(rules) + "\n")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c ssl=on "
            f"-c ssl_cert_file={self.root / 'server.pem'} -c ssl_key_file={self.root / 'server.key'}"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"), "-o", options, "-w", "start")
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "sourcier", "sourcier")
        return self

    def database(self, name: str) -> str:
        """The URL of a new, empty database, as a site writes it: password, TLS, the server's certificate checked."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "sourcier", name)
        return (
            f"postgresql+psycopg://sourcier:{self.password}@localhost:{self.port}/{name}"
            f"?sslmode=verify-full&sslrootcert={self.ca_file}"
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql():
    server = PostgreSQL().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on loopback, started by the test session."""
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("le serveur chroma n'a pas démarré")
    yield ("127.0.0.1", port)
    process.terminate()
    process.wait(timeout=20)
