"""The Streamlit app's pages against a real index (streamlit.testing AppTest), with the LLM behind a real HTTP
protocol stand-in of Ollama so that each answer takes seconds; the browser test uses the real embedded model."""

import subprocess
import sys
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest import background
from ingest.manifest import Manifest
from ingest.pipeline import IngestionPipeline
from sourcier.audit import AuditKind, AuditLog
from sourcier.feedback import FeedbackStore
from tests.conftest import FICHES, MODELS, REPO, copy_into, free_port, make_settings, wait_for_streamlit
from tests.ollama_standin import ANSWER, OllamaStandIn

APP = str(REPO / "ui" / "app.py")
QUESTION = "Quel justificatif de domicile pour m'inscrire sur la liste électorale ?"


def use_index(monkeypatch, settings, llm_host: str | None = None):
    monkeypatch.setenv("SOURCIER_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("SOURCIER_STORE__PATH", str(settings.store.path))
    monkeypatch.setenv("SOURCIER_EMBEDDING__MODELS_DIR", str(MODELS))
    if llm_host:
        monkeypatch.setenv("SOURCIER_LLM__BACKEND", "ollama")
        monkeypatch.setenv("SOURCIER_LLM__OLLAMA_HOST", llm_host)
    st.cache_resource.clear()  # AppTest runs in this process: resources cached by a previous test must go


@pytest.fixture
def indexed(tmp_path, embedder):
    settings = make_settings(tmp_path)
    copy_into(settings.corpus_dir, "elections", FICHES / "F1965.html")
    copy_into(settings.corpus_dir, "urbanisme", FICHES / "F1633.html")
    IngestionPipeline(settings, embedder=embedder).run()
    return settings


@pytest.fixture
def ollama():
    standin = OllamaStandIn(models=["qwen2.5:7b-instruct"])
    yield standin
    standin.close()


def start(timeout: int = 120) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.run()
    assert not app.exception
    return app


def ask(app: AppTest, question: str, timeout: float = 120) -> None:
    """Ask in the chat, wait for the worker that answers (it writes outside the page's runs), show the answer."""
    app.chat_input[0].set_value(question).run()
    assert conversation_of(app).wait(timeout), f"no answer within {timeout} s (LLM stand-in too slow?)"
    app.run()


def conversation_of(app: AppTest):
    from ui.common import conversations  # the registry the app uses: AppTest runs it in this process
    from ui.identity import DEMO_READER

    conversation_id = app.query_params["conversation"]
    return conversations().get(
        conversation_id[0] if isinstance(conversation_id, list) else conversation_id, DEMO_READER
    )


def all_text(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [e.label for e in app.expander]
    parts += [a.value for a in [*app.info, *app.warning, *app.error, *app.success]]
    return "\n".join(parts)


def test_empty_index_explains_what_to_do(tmp_path, monkeypatch):
    use_index(monkeypatch, make_settings(tmp_path))
    app = start()
    assert "Aucun document n'est encore indexé" in app.warning[0].value
    assert "Administration" in app.warning[0].value
    app.switch_page("admin_page.py").run()
    assert not app.exception
    assert [m.value for m in app.metric][:2] == ["0", "0"]


def test_chat_answers_with_its_sources_and_stores_feedback(indexed, monkeypatch, ollama):
    use_index(monkeypatch, indexed, ollama.url)
    app = start()
    assert "2 documents internes" in app.markdown[0].value
    assert len([b for b in app.button if b.key and b.key.startswith("example-")]) == 3

    ask(app, QUESTION)
    assert not app.exception
    text = all_text(app)
    assert "justificatif de domicile de moins de 3 mois" in text
    # Source: title, service, the cited passage highlighted, the file downloadable; model named, discreetly.
    # The stand-in always cites [1]; the passage that says « 3 mois » is another one: the check cites it instead
    # and says so.
    source = app.expander[0]
    assert source.label.startswith("[") and "— Élections" in source.label  # the service by its name, not its folder
    assert "source retrouvée par Sourcier" in text
    assert ":blue-background[" in source.markdown[0].value
    assert "elections/F1965.html" in text
    assert "Réponse de modèle du serveur Ollama (qwen2.5:7b-instruct)" in text
    # The stand-in's answer claims "moins de 3 mois"; the extracts say so, so nothing is marked unsupported.
    assert "orange-background" not in app.markdown[1].value

    app.feedback[0].set_value(0).run()  # thumbs down
    app.text_input(key="comment-0").input("Il manque le cas des étudiants.")
    app.button[[b.label for b in app.button].index("Envoyer le commentaire")].click().run()
    assert not app.exception
    (stored,) = FeedbackStore.of(indexed.store).feedback()
    assert stored["rating"] == -1 and stored["question"] == QUESTION and stored["answer"] == ANSWER
    assert stored["comment"] == "Il manque le cas des étudiants."
    assert stored["cited_chunks"] and all(":" in chunk for chunk in stored["cited_chunks"])
    (rated,) = AuditLog.of(indexed.store).events([AuditKind.FEEDBACK])  # recorded once, whatever the reruns
    assert rated.detail["rating"] == -1 and "question" not in rated.detail

    # A follow-up is searched with the question it follows (one model call: the answer); a new conversation
    # forgets it.
    ask(app, "Et pour un étudiant ?")
    assert len(ollama.requests) == 2 and "Et pour un étudiant" in str(ollama.requests[-1]["messages"])
    assert f"« {QUESTION} Et pour un étudiant ? »" in all_text(app)
    app.button[[b.label for b in app.button].index("Nouvelle conversation")].click().run()
    assert not app.expander and "Exemples" in app.markdown[1].value


def test_no_question_is_lost_and_a_reload_finds_the_conversation(indexed, monkeypatch):
    slow = OllamaStandIn(models=["qwen2.5:7b-instruct"], word_delay=0.5)  # ~7 s per answer
    try:
        use_index(monkeypatch, indexed, slow.url)
        app = start()
        app.chat_input[0].set_value(QUESTION).run()
        app.chat_input[0].set_value("Et pour un étudiant ?").run()  # while the first is being written
        assert "En attente" in all_text(app)  # the second waits, shown as waiting; the first is still written
        conversation = conversation_of(app)
        # While the first is written: what is being done, and the extracts — marked as not the answer.
        deadline = time.monotonic() + 60
        while not conversation.turns[0].partial and time.monotonic() < deadline:
            time.sleep(0.2)
        app.run()
        writing = all_text(app)
        assert "Extraits trouvés** — ce n'est pas encore la réponse" in writing, writing
        assert "Rédaction de la réponse…" in writing and ":blue-background[" in writing
        assert conversation.wait(120), "no answer within 120 s (LLM stand-in too slow?)"
        app.run()
        assert not app.exception and not app.error
        assert [t.question for t in conversation.turns] == [QUESTION, "Et pour un étudiant ?"]
        assert all_text(app).count("justificatif de domicile de moins de 3 mois") >= 2

        # A reload is a new session with the same address: the conversation is still there, answers and sources.
        reloaded = AppTest.from_file(APP, default_timeout=120)
        reloaded.query_params["conversation"] = conversation.id
        reloaded.run()
        assert not reloaded.exception
        assert [m.value for m in reloaded.chat_message[0].markdown][0].startswith("Quel justificatif")
        assert len(reloaded.chat_message) == 4 and reloaded.expander[0].label.startswith("[")
        # Another page and back: still the same conversation.
        reloaded.switch_page("admin_page.py").run()
        reloaded.switch_page("chat_page.py").run()
        assert not reloaded.exception and len(reloaded.chat_message) == 4
        # The answer can be copied with its sources.
        copied = reloaded.code[0].value
        assert copied.startswith("Il faut un justificatif") and "\n\nSources :\n[" in copied
    finally:
        slow.close()


def test_off_topic_question_shows_closest_documents_without_calling_the_llm(indexed, monkeypatch, ollama):
    use_index(monkeypatch, indexed, ollama.url)
    app = start()
    ask(app, "Quelle est la recette de la tarte tatin aux pommes ?")
    assert not app.exception
    assert "Je ne trouve pas cette information" in app.info[0].value
    assert "Documents les plus proches" in all_text(app)
    assert ollama.requests == []
    (gap,) = FeedbackStore.of(indexed.store).unanswered()
    assert gap["question"].startswith("Quelle est la recette")


def test_unreachable_llm_is_explained_in_french(indexed, monkeypatch):
    use_index(monkeypatch, indexed, f"http://127.0.0.1:{free_port()}")
    app = start()
    ask(app, QUESTION)
    assert not app.exception
    message = app.error[0].value
    assert "modèle de langage" in message and "Traceback" not in message


def test_service_filter_applies_inside_retrieval(indexed, monkeypatch, ollama):
    use_index(monkeypatch, indexed, ollama.url)
    app = start()
    app.multiselect(key="services").select("urbanisme").run()
    ask(app, QUESTION)
    assert not app.exception
    sources = [e.label for e in app.expander] + [c.value for c in app.caption]
    assert not any("Élections" in s for s in sources)
    # Said whether it answers from the urbanisme fiche (flagged where unsupported) or refuses (« La recherche était
    # limitée aux services : Urbanisme »).
    assert "services : Urbanisme" in all_text(app)


def test_admin_excludes_and_reincludes_a_document(indexed, monkeypatch, ollama):
    use_index(monkeypatch, indexed, ollama.url)
    app = start()
    app.switch_page("admin_page.py").run()
    assert [m.value for m in app.metric][:1] == ["2"]
    app.selectbox(key="exclusion_document").select("elections/F1965.html").run()
    app.button(key="exclude").click().run()
    assert not app.exception
    with Manifest(indexed.store) as manifest:
        assert [e["path"] for e in manifest.excluded().values()] == ["elections/F1965.html"]

    app.switch_page("chat_page.py").run()
    ask(app, QUESTION)
    # The chat did answer (a failed answer would hide the document too), from what remains: the urbanisme fiche,
    # cited or listed among the closest documents.
    assert not app.exception and not app.error
    shown = [e.label for e in app.expander] + [m.value for m in app.markdown]
    assert any("— Urbanisme" in text for text in shown), shown
    assert "elections/F1965.html" not in all_text(app)  # excluded at retrieval, not hidden by the page

    app.switch_page("admin_page.py").run()
    app.selectbox(key="exclusion_document").select("elections/F1965.html").run()
    app.button(key="include").click().run()
    with Manifest(indexed.store) as manifest:
        assert manifest.excluded() == {}


def wait_for_ingestion(settings, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(1)
    while background.is_running(settings) and time.monotonic() < deadline:
        time.sleep(1)
    progress = background.progress(settings)
    assert progress and progress.finished and not progress.error, background.last_log(settings)


def test_admin_uploads_a_file_and_ingests_it_in_the_background(indexed, monkeypatch):
    use_index(monkeypatch, indexed)
    app = start()
    app.switch_page("admin_page.py").run()
    app.selectbox(key="upload_service").select("(nouveau service)").run()
    app.text_input(key="upload_new_service").input("Cimetière")
    app.file_uploader(key="upload_files").set_value(
        ("../../F12691.html", (FICHES / "F12691.html").read_bytes(), "text/html")
    )
    app.button[[b.label for b in app.button].index("Ajouter et indexer")].click().run()
    assert not app.exception, app.exception
    assert not app.error, app.error[0].value
    # Said after the rerun that starts the ingestion (it used to vanish with it).
    assert "1 fichier ajouté dans « Cimetière ». Indexation lancée." in [s.value for s in app.success]
    saved = indexed.corpus_dir / "Cimetière" / "F12691.html"
    assert saved.is_file() and not (indexed.corpus_dir.parent / "F12691.html").exists()

    wait_for_ingestion(indexed)
    app.run()
    assert not app.exception
    assert any("Ingestion terminée" in s.value for s in app.success)
    assert [m.value for m in app.metric][:1] == ["3"]
    with Manifest(indexed.store) as manifest:
        documents = manifest.documents(manifest.active_collection(indexed.store.collection))
    assert documents["Cimetière/F12691.html"].status == "indexed"


def test_local_accounts_sign_in_and_pages_by_role(indexed, monkeypatch, tmp_path):
    from sourcier.accounts import Accounts

    use_index(monkeypatch, indexed)
    policy = tmp_path / "acces.toml"
    policy.write_text('admins = ["dsi"]\n[services]\nelections = ["tous"]\n', encoding="utf-8")
    monkeypatch.setenv("SOURCIER_ACCESS__POLICY", str(policy))
    monkeypatch.setenv("SOURCIER_IDENTITY__MODE", "local")
    Accounts.of(indexed.store).add("marie", "marie-mot-de-passe", ["dsi"])
    Accounts.of(indexed.store).add("jean", "jean-mot-de-passe", [])

    app = start()
    assert not app.chat_input and app.button[0].label == "Se connecter"
    app.text_input[0].set_value("jean")
    app.text_input[1].set_value("mauvais mot de passe")
    app.button[0].click().run()
    assert "Nom d'utilisateur ou mot de passe incorrect." in [e.value for e in app.error]
    app.text_input[1].set_value("jean-mot-de-passe")
    app.button[0].click().run()
    assert app.chat_input and "Connecté : **jean** — agent" in all_text(app)
    # An agent's menu has the assistant, FALC drafts and the accessibility statement only: the other pages are not
    # even registered for them…
    known = r"Known pages: \['[^']*chat_page.py', '[^']*falc_page.py', '[^']*accessibility_page.py'\]"
    with pytest.raises(ValueError, match=known):
        app.switch_page("admin_page.py")
    # … and a page run by its address checks the role itself.
    admin_page = AppTest.from_file(str(REPO / "ui" / "admin_page.py"), default_timeout=60)
    admin_page.session_state["sourcier_signed_in"] = app.session_state["sourcier_signed_in"]
    admin_page.run()
    assert "Relancer l'ingestion" not in all_text(admin_page)
    assert any("n'est pas ouverte à votre profil" in e.value for e in admin_page.error)
    kinds = [event.kind for event in AuditLog.of(indexed.store).events()]
    assert AuditKind.SIGN_IN_FAILED in kinds and AuditKind.SIGN_IN in kinds and AuditKind.DENIED in kinds


def test_the_demo_refuses_a_network_address(tmp_path):
    from tests.test_cli import sourcier

    refused = sourcier(tmp_path, "app", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 1 and "Refus d'écouter sur 0.0.0.0" in refused.stderr


def test_stopping_sourcier_app_stops_the_server(tmp_path):
    # `sourcier app` used to start Streamlit as a child: a SIGTERM to it left the server listening, orphaned.
    import httpx

    port = free_port()
    environment = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOURCIER_CORPUS_DIR": str(tmp_path / "corpus"),
        "SOURCIER_STORE__PATH": str(tmp_path / "vectorstore"), "SOURCIER_EMBEDDING__MODELS_DIR": str(MODELS),
    }  # fmt: skip
    app = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "app", "--port", str(port)], cwd=REPO, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_streamlit(f"http://127.0.0.1:{port}", app)
        app.terminate()
        app.wait(timeout=30)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        app.kill()


def test_falc_draft_is_checked_edited_validated_and_exported(indexed, monkeypatch, ollama):
    """The stand-in answers every passage with the same sentence (« … 3 mois [1]. »), so the page must refuse it
    (a fact added, the document's facts lost), keep the source marked « à réécrire », block validation until the
    owner rewrites the passage, then export DOCX and ODT."""
    use_index(monkeypatch, indexed, ollama.url)
    app = start()
    app.switch_page("falc_page.py").run()
    assert not app.exception
    titles = app.selectbox(key="falc_document").options
    app.selectbox(key="falc_document").select_index(titles.index(next(t for t in titles if "F1965" in t or
                                                                       "électorale" in t))).run()  # fmt: skip
    sections = app.selectbox[1]
    sections.select(sections.options[1]).run()  # one part of the document: fewer passages to wait for
    app.button[0].click().run(timeout=300)
    assert not app.exception, app.exception
    editors = app.text_area
    assert editors, all_text(app)
    assert "réécrivez-le" in all_text(app)  # the model's text lost or added facts: the source was kept
    next(b for b in app.button if b.label == "Valider le brouillon").click().run()
    assert "Validation impossible" in all_text(app)
    for editor in app.text_area:  # the owner rewrites every passage, keeping its facts
        editor.set_value(editor.value + "\nVous pouvez demander de l'aide à la mairie.").run()
    next(b for b in app.button if b.label == "Valider le brouillon").click().run()
    assert "Brouillon validé" in all_text(app), all_text(app)
    assert [b.proto.label for b in app.get("download_button")] == ["Exporter en DOCX", "Exporter en ODT"]

    events = AuditLog.of(indexed.store, 30).events([AuditKind.FALC])
    assert {event.detail["action"] for event in events} == {"rédaction", "validation"}
