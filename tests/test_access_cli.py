"""Access control from the command line, as an admin types it: local accounts (real argon2), `--as`, admin-only
commands, a policy change applied without re-embedding, and the audit trail — on the real pipeline and index."""

import csv
import io
import json

import pytest

from sourcier.settings import Settings
from tests.conftest import REPO, copy_into
from tests.ollama_standin import OllamaStandIn
from tests.test_cli import sourcier

POLICY = """
everyone = "tous"
admins = ["dsi"]
[services]
elections = ["tous"]
rh = ["rh"]
"""
HR_QUESTION = "Combien de temps dure le congé de maladie ordinaire d'un fonctionnaire ?"


@pytest.fixture
def server(tmp_path):
    copy_into(tmp_path / "corpus", "elections", REPO / "corpus" / "elections" / "F1965.html")
    copy_into(tmp_path / "corpus", "rh", REPO / "corpus" / "rh" / "F544.html", REPO / "corpus" / "rh" / "F490.html")
    (tmp_path / "acces.toml").write_text(POLICY, encoding="utf-8")
    standin = OllamaStandIn(models=["qwen2.5:7b-instruct"])
    yield (
        tmp_path,
        {
            "SOURCIER_IDENTITY__MODE": "local",
            "SOURCIER_ACCESS__POLICY": str(tmp_path / "acces.toml"),
            "SOURCIER_LLM__BACKEND": "ollama",
            "SOURCIER_LLM__OLLAMA_HOST": standin.url,
        },
    )
    standin.close()


def test_accounts_roles_policy_and_audit_from_the_cli(server):
    tmp_path, env = server

    def run(*args, password=None, stdin=None):
        return sourcier(tmp_path, *args, stdin=stdin, SOURCIER_PASSWORD=password, **env)

    # The first admin is created before any account exists; no default account, no default password.
    assert "Aucun compte" in run("users", "list").stdout
    first = run("users", "add", "marie", "--groups", "dsi", "--password-stdin", stdin="marie-mot-de-passe\n")
    assert first.returncode == 0 and "administrateur" in first.stdout, first.stderr
    refused = run("users", "add", "paul", "--password-stdin", stdin="paul-mot-de-passe\n")
    assert refused.returncode == 1 and "--as" in refused.stderr
    added = run(
        "--as", "marie", "users", "add", "paul", "--groups", "rh", "--password-stdin",
        password="marie-mot-de-passe", stdin="paul-mot-de-passe\n",
    )  # fmt: skip
    assert added.returncode == 0 and "agent" in added.stdout, added.stderr
    run("--as", "marie", "users", "add", "jean", "--password-stdin", password="marie-mot-de-passe",
        stdin="jean-mot-de-passe\n")  # fmt: skip
    short = run(
        "--as", "marie", "users", "add", "luc", "--password-stdin", password="marie-mot-de-passe", stdin="court\n"
    )
    assert short.returncode == 1 and "trop court" in short.stderr

    # Administrative commands are for admins; a wrong password is refused without saying which part was wrong.
    denied = run("--as", "paul", "ingest", "--quiet", password="paul-mot-de-passe")
    assert denied.returncode == 1 and "réservée aux administrateurs" in denied.stderr
    wrong = run("--as", "marie", "ingest", "--quiet", password="pas-le-bon-mot-de-passe")
    assert wrong.returncode == 1 and "Nom d'utilisateur ou mot de passe incorrect" in wrong.stderr
    ingested = run("--as", "marie", "ingest", "--quiet", "--no-report", password="marie-mot-de-passe")
    assert ingested.returncode == 0, ingested.stderr

    def sources(user, password):
        result = run("--as", user, "ask", HR_QUESTION, "--json", password=password)
        assert result.returncode == 0, result.stderr
        return {source["path"].split("/")[0] for source in json.loads(result.stdout)["sources"]}

    assert "rh" in sources("paul", "paul-mot-de-passe")
    assert sources("jean", "jean-mot-de-passe") <= {"elections"}

    # A policy change: applied to the index's metadata only, then jean reads the HR fiches too.
    (tmp_path / "acces.toml").write_text(POLICY.replace('rh = ["rh"]', 'rh = ["rh", "tous"]'), encoding="utf-8")
    applied = run("--as", "marie", "access", "apply", password="marie-mot-de-passe")
    assert applied.returncode == 0 and "sans réindexation" in applied.stdout, applied.stderr
    assert "rh" in sources("jean", "jean-mot-de-passe")
    assert "rh : rh, tous" in run("--as", "marie", "access", "show", password="marie-mot-de-passe").stdout

    # The audit trail: who asked what (masked), and what admins did — exported as CSV for the DPO.
    run("--as", "jean", "ask", "Mon numéro est le 06 12 34 56 78, ai-je droit à des congés ?", "--json",
        password="jean-mot-de-passe")  # fmt: skip
    denied_audit = run("--as", "jean", "audit", password="jean-mot-de-passe")
    assert denied_audit.returncode == 1
    exported = run("--as", "marie", "audit", "--csv", str(tmp_path / "audit.csv"), password="marie-mot-de-passe")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "audit.csv").read_text(encoding="utf-8")), delimiter=";"))
    kinds = [row[1] for row in rows[1:]]
    assert {"question", "comptes modifiés", "droits d'accès appliqués", "ingestion"} <= set(kinds)
    questions = [row for row in rows[1:] if row[1] == "question"]
    assert {row[2] for row in questions} == {"paul", "jean"}
    assert any("06 ••" in row[4] for row in questions) and not any("12 34 56 78" in row[4] for row in rows)


def test_settings_on_stdin_never_give_more_rights_than_the_one_who_started_the_command(server):
    """The app's and the API's background ingestion hand their settings to a child on its stdin. That door once ran
    any command as Sourcier itself: `echo "$SETTINGS" | sourcier --settings-stdin api-keys add eve --groups dsi`
    printed a key of the admins' group, without --as or a password."""
    tmp_path, env = server

    def run(*args, stdin):
        return sourcier(tmp_path, *args, stdin=stdin, **env)

    settings = Settings(
        corpus_dir=tmp_path / "corpus",
        store={"path": str(tmp_path / "vectorstore")},
        embedding={"models_dir": str(REPO / "models")},
        identity={"mode": "local"},
        access={"policy": str(tmp_path / "acces.toml")},
    ).model_dump(mode="json")

    key = run("--settings-stdin", "api-keys", "add", "eve", "--groups", "dsi", stdin=json.dumps({"settings": settings}))
    assert key.returncode == 1 and "--settings-stdin ne sert qu'aux ingestions" in key.stderr
    assert not key.stdout.strip()

    # In local mode the groups are the account's, whatever the payload claims.
    run("users", "add", "marie", "--groups", "dsi", "--password-stdin", stdin="marie-mot-de-passe\n")
    by_an_agent = {"settings": settings, "started_by": {"name": "paul", "groups": ["dsi"]}}
    refused = run("--settings-stdin", "ingest", "--quiet", "--no-report", stdin=json.dumps(by_an_agent))
    assert refused.returncode == 1 and "réservée aux administrateurs ; paul" in refused.stderr

    by_an_admin = {"settings": settings, "started_by": {"name": "marie", "groups": ["dsi"]}}
    ingested = run("--settings-stdin", "ingest", "--quiet", "--no-report", stdin=json.dumps(by_an_admin))
    assert ingested.returncode == 0, ingested.stderr
