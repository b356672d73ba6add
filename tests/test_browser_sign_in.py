"""Sign-in and per-group access in a real browser: a real OpenID Connect provider on loopback (`oidc-provider-mock`,
with two users whose `groups` claims differ), the real Streamlit app configured for it through Streamlit's own
`st.login` ([auth] in .streamlit/secrets.toml), Debian's headless Chromium, the real embedding model and index.
The LLM is the Ollama stand-in: what is checked here is who sees which sources, not the wording."""

import contextlib
import os
import shutil
import subprocess
import sys
import time

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from ingest.pipeline import IngestionPipeline
from tests.conftest import (
    HR_POLICY,
    HR_QUESTION,
    MODELS,
    REPO,
    copy_into,
    free_port,
    make_settings,
    wait_for_streamlit,
)
from tests.nginx import nginx
from tests.ollama_standin import OllamaStandIn

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
HR_REFERENT = User(
    sub="claire", claims={"email": "claire.rh@mairie.fr", "email_verified": True, "groups": ["rh", "rh-referents"]}
)
AGENT = User(sub="jean", claims={"email": "jean.accueil@mairie.fr", "email_verified": True, "groups": ["accueil"]})


@pytest.fixture
def indexed(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", REPO / "corpus" / "elections" / "F1965.html")
    copy_into(settings.corpus_dir, "rh", REPO / "corpus" / "rh" / "F544.html", REPO / "corpus" / "rh" / "F490.html")
    policy = tmp_path / "acces.toml"
    policy.write_text(HR_POLICY, encoding="utf-8")
    settings.access.policy = policy
    IngestionPipeline(settings, embedder=embedder).run()
    return settings


@contextlib.contextmanager
def serve(settings, folder, port: int | None = None, **env):
    """The real app, started as `streamlit run` does, from `folder` (where Streamlit looks for .streamlit/)."""
    port = port or free_port()
    url = f"http://localhost:{port}"  # the name the redirect URI uses: the session cookie is set for it
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    with contextlib.closing(OllamaStandIn(models=["qwen2.5:7b-instruct"])) as standin:
        environment = {
            **os.environ,
            "SOURCIER_CORPUS_DIR": str(settings.corpus_dir),
            "SOURCIER_STORE__PATH": str(settings.store.path),
            "SOURCIER_EMBEDDING__MODELS_DIR": str(MODELS),
            "SOURCIER_ACCESS__POLICY": str(settings.access.policy),
            "SOURCIER_LLM__BACKEND": "ollama",
            "SOURCIER_LLM__OLLAMA_HOST": standin.url,
            **env,
        }
        command = [sys.executable, "-m", "streamlit", "run", str(REPO / "ui" / "app.py"),
                   "--server.address", "127.0.0.1", "--server.port", str(port)]  # fmt: skip
        server = subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            wait_for_streamlit(url, server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.fixture
def app_url(tmp_path, indexed):
    with run_server_in_thread(user_claims=[HR_REFERENT, AGENT]) as provider:
        folder = tmp_path / "app"
        (folder / ".streamlit").mkdir(parents=True)
        # Streamlit's st.login reads the provider from [auth] in .streamlit/secrets.toml.
        port = free_port()
        (folder / ".streamlit" / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            'cookie_secret = "un-secret-de-test-assez-long-pour-signer-les-cookies"\n'
            'client_id = "sourcier"\n'
            'client_secret = "secret-du-client"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"\n',
            encoding="utf-8",
        )
        with serve(indexed, folder, SOURCIER_IDENTITY__MODE="oidc", port=port) as url:
            yield url, indexed


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium absent : `make system-packages` l'installe (paquets chromium, chromium-driver).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def sign_in(browser, url: str, user: User):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR").new_page()
    page.goto(url)
    page.get_by_role("button", name="Se connecter").click(timeout=60_000)
    page.get_by_role("button", name=user.sub).click(timeout=30_000)  # the provider's page: one click per user
    page.get_by_placeholder("Posez votre question…").wait_for(timeout=60_000)
    expect(page.get_by_text(f"Connecté : {user.claims['email']}")).to_be_visible()
    return page


def answer_to(page, question: str) -> str:
    """The assistant's whole turn as the user sees it: answer, sources, closest documents."""
    page.get_by_placeholder("Posez votre question…").fill(question)
    page.keyboard.press("Enter")
    page.get_by_text("Réponse de").or_(page.get_by_text("Je ne trouve pas cette information")).first.wait_for(
        timeout=120_000
    )
    time.sleep(1)
    return page.locator("[data-testid='stChatMessage']").nth(1).inner_text()


def test_two_users_see_only_their_sources_and_pages(app_url, browser):
    url, _ = app_url
    referent = sign_in(browser, url, HR_REFERENT)
    agent = sign_in(browser, url, AGENT)

    seen_by_referent = answer_to(referent, HR_QUESTION)
    seen_by_agent = answer_to(agent, HR_QUESTION)
    assert "Arrêt maladie d'un fonctionnaire" in seen_by_referent
    for hr_title in ("Arrêt maladie d'un fonctionnaire", "Disponibilité d'un fonctionnaire"):
        assert hr_title not in seen_by_agent and hr_title not in agent.content()

    # Pages by role: the HR referent has the quality report (of their service), the agent neither it nor the admin
    # page — not in the menu, and not by typing the address either.
    expect(referent.get_by_role("link", name="Qualité des documents")).to_be_visible()
    expect(referent.get_by_role("link", name="Administration")).to_have_count(0)
    expect(agent.get_by_role("link", name="Qualité des documents")).to_have_count(0)
    for hidden in ("admin_page", "quality_page"):
        agent.goto(f"{url}/{hidden}")
        agent.get_by_placeholder("Posez votre question…").wait_for(timeout=60_000)
        assert "Relancer l'ingestion" not in agent.content() and "Constats ouverts" not in agent.content()

    # Signing out ends the session: the sign-in button again, even after a reload.
    agent.goto(url)
    agent.get_by_role("button", name="Se déconnecter").click(timeout=60_000)
    # Streamlit ends the provider's session too (RP-initiated logout): the provider asks to confirm.
    agent.get_by_role("button", name="End session").click(timeout=30_000)
    agent.goto(url)
    agent.get_by_role("button", name="Se connecter").wait_for(timeout=30_000)
    agent.reload()
    agent.get_by_role("button", name="Se connecter").wait_for(timeout=30_000)
    expect(agent.get_by_placeholder("Posez votre question…")).to_have_count(0)
    assert "Traceback" not in referent.content() + agent.content()


SERVER = """
    map $remote_user $sourcier_groups {{ default ""; paul.rh "rh"; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_basic "Mairie";
            auth_basic_user_file {root}/htpasswd;
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            # What the browser sends under these names is replaced: only the proxy says who the user is.
            proxy_set_header X-Forwarded-User $remote_user;
            proxy_set_header X-Forwarded-Groups $sourcier_groups;
        }}
    }}
"""


@contextlib.contextmanager
def authenticating_proxy(root, app_port: int):
    """A real nginx in front of the app: it authenticates (basic auth here) and sends the user and groups."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "htpasswd").write_text("paul.rh:{PLAIN}mot-de-passe-de-paul\n", encoding="utf-8")
    with nginx(root, SERVER.format(root=root, port=port, app_port=app_port), f"http://127.0.0.1:{port}/"):
        yield f"http://localhost:{port}"


@pytest.mark.parametrize("trusted", [True, False], ids=["proxy-de-confiance", "autre-adresse"])
def test_behind_a_proxy_headers_count_only_from_the_proxy(tmp_path, indexed, browser, trusted):
    proxies = '["127.0.0.1"]' if trusted else '["10.1.2.3"]'
    app_port = free_port()
    with (
        serve(indexed, tmp_path / "app", app_port, SOURCIER_IDENTITY__MODE="proxy",
              SOURCIER_IDENTITY__TRUSTED_PROXIES=proxies),
        authenticating_proxy(tmp_path / "nginx", app_port) as url,
    ):  # fmt: skip
        context = browser.new_context(
            locale="fr-FR",
            http_credentials={"username": "paul.rh", "password": "mot-de-passe-de-paul"},
            extra_http_headers={"X-Forwarded-Groups": "dsi"},  # a browser claiming admin: replaced by the proxy
        )
        page = context.new_page()
        page.goto(url)
        if not trusted:  # the proxy's headers, from an address that is not the configured proxy's: nobody
            page.get_by_text("Accès refusé").wait_for(timeout=60_000)
            expect(page.get_by_placeholder("Posez votre question…")).to_have_count(0)
            return
        try:
            page.get_by_placeholder("Posez votre question…").wait_for(timeout=90_000)
        except PlaywrightTimeout:
            pytest.fail(f"Pas de conversation ouverte ; la page affiche : {page.inner_text('body')[:1500]}")
        expect(page.get_by_text("Connecté : paul.rh — agent")).to_be_visible()
        assert "Arrêt maladie d'un fonctionnaire" in answer_to(page, HR_QUESTION)
