"""The app in a real browser: Streamlit on loopback, Debian's headless Chromium driven by Playwright, the real
embedding model and the real embedded LLM. Screenshots are kept in tests/artifacts/ (docs/images' come from here)."""

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from ingest.pipeline import IngestionPipeline
from tests.conftest import FICHES, MODELS, REPO, copy_into, free_port, make_settings, wait_for_streamlit

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
QUESTION = "Quel justificatif de domicile faut-il pour s'inscrire sur la liste électorale ?"


@pytest.fixture
def app_url(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html", FICHES / "F1372.html")
    copy_into(settings.corpus_dir, "urbanisme", FICHES / "F1633.html", FICHES / "F17578.html")
    copy_into(settings.corpus_dir, "cimetiere", FICHES / "F12691.html")
    IngestionPipeline(settings, embedder=embedder).run()
    port = free_port()
    env = {
        **os.environ,
        "SOURCIER_CORPUS_DIR": str(settings.corpus_dir),
        "SOURCIER_STORE__PATH": str(settings.store.path),
        "SOURCIER_EMBEDDING__MODELS_DIR": str(MODELS),
        "SOURCIER_LLM__BACKEND": "embedded",
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "ui" / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_streamlit(url, server)
    yield url
    server.terminate()
    server.wait(timeout=20)


# axe-core (bundled in the PyPI package, injected into the page: nothing is fetched). Streamlit's file uploader marks
# its drop zone « presentation » and focusable at once: its own markup, minor, reported upstream's way.
STREAMLIT_OWN = {"presentation-role-conflict"}


def accessibility_problems(page) -> list[str]:
    """What axe-core finds on the page as it is shown, but Streamlit's own markup listed above."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}) : {v['help']} — {[n['html'][:120] for n in v['nodes'][:2]]}"
        for v in results.response["violations"]
        if v["id"] not in STREAMLIT_OWN
    ]


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail("Chromium absent : `make system-packages` l'installe (paquets chromium, chromium-driver).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
        yield context.new_page()
        browser.close()


def test_question_answered_with_sources_in_a_real_browser(app_url, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(app_url)
    page.get_by_text("Posez vos questions sur les procédures").wait_for(timeout=60_000)
    assert page.get_by_text("5 documents internes").is_visible()

    page.get_by_placeholder("Posez votre question…").fill(QUESTION)
    page.keyboard.press("Enter")
    # The embedded 1.5B model reads the extracts at ~40 tokens/s on 2 cores: allow minutes.
    first_source = page.locator("[data-testid='stExpander']").first
    first_source.wait_for(timeout=420_000)
    page.get_by_text("Réponse de").wait_for(timeout=30_000)
    first_source.locator("summary").click()
    page.get_by_text("Télécharger le document").first.wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    answer = page.locator("[data-testid='stChatMessage']").nth(1).inner_text()
    assert "[" in answer and "]" in answer  # cites its extracts
    assert "domicile" in answer.lower()
    assert "[1]" in first_source.inner_text() and "Élections" in first_source.inner_text()
    assert "Traceback" not in page.content()
    assert accessibility_problems(page) == []

    page.get_by_role("link", name="Administration").click()
    page.get_by_text("Reconstruire l'index entièrement").click()
    page.get_by_role("button", name="Relancer l'ingestion").click()
    page.get_by_text("Ingestion en cours").first.wait_for(timeout=60_000)
    with contextlib.suppress(PlaywrightTimeout):  # a screenshot mid-way when the run is slow enough to catch
        page.get_by_text(re.compile(r"Ingestion en cours — (indexation|finalisation)")).wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)
    assert accessibility_problems(page) == []
    page.get_by_text("Ingestion terminée :").wait_for(timeout=300_000)  # the quality report comes right after
    assert page.get_by_text("Extraits indexés", exact=True).is_visible()

    page.get_by_role("link", name="Qualité des documents").click()
    page.get_by_text("Constats ouverts").wait_for(timeout=60_000)
    page.get_by_text("Constats par type").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "quality.png"), full_page=True)
    assert "Traceback" not in page.content()
    assert accessibility_problems(page) == []
    for name, heading in [("Version FALC", "Version « facile à lire et à comprendre »"), ("Accessibilité", None)]:
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=heading or name).first.wait_for(timeout=30_000)
        assert accessibility_problems(page) == [], name
