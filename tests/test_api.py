"""The HTTP API as its clients use it: the real uvicorn server on loopback, `httpx`, the official `openai` client, a
real OpenID Connect provider (`oidc-provider-mock`) whose signed tokens the API checks against its published keys,
API keys from the real store, the real embedding model and index. The LLM is the Ollama stand-in: what is checked
here is who reads what, the protocol and the errors, not the wording."""

import contextlib
import threading
import time
from urllib.parse import parse_qs, urlparse

import httpx
import openai
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from oidc_provider_mock import User, run_server_in_thread

from api.app import create_app
from ingest.pipeline import IngestionPipeline
from sourcier.api_keys import ApiKeys
from sourcier.audit import AuditKind, AuditLog
from sourcier.feedback import FeedbackStore
from sourcier.settings import LLMBackendKind
from tests.conftest import HR_POLICY, HR_QUESTION, REPO, copy_into, free_port, make_settings
from tests.ollama_standin import OllamaStandIn

pytestmark = pytest.mark.slow
CLIENT_ID = "sourcier"
HR_REFERENT = User(
    sub="claire", claims={"email": "claire.rh@mairie.fr", "email_verified": True, "groups": ["rh", "rh-referents"]}
)
AGENT = User(sub="jean", claims={"email": "jean.accueil@mairie.fr", "email_verified": True, "groups": ["accueil"]})
HR_TITLES = {"Arrêt maladie d'un fonctionnaire", "Disponibilité d'un fonctionnaire"}
QUESTIONS = [
    HR_QUESTION,
    "Un fonctionnaire peut-il demander une disponibilité pour convenances personnelles ?",
    "Quel justificatif de domicile faut-il pour s'inscrire sur la liste électorale ?",
]


@contextlib.contextmanager
def uvicorn_server(app):
    """The app under the real uvicorn server, on a free loopback port, in a thread of the test process (so that the
    embedding model loaded once by the session serves it too)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn n'a pas démarré"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def oidc_token(provider_url: str, user: User, client_id: str = CLIENT_ID) -> str:
    """A signed ID token for `user`, obtained as a client does: authorisation code flow, then the token endpoint."""
    redirect = "http://127.0.0.1/callback"
    query = {"client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": "openid email"}
    with httpx.Client(base_url=provider_url) as client:
        authorized = client.post("/oauth2/authorize", params=query, data={"sub": user.sub})
        assert authorized.status_code == 302, authorized.text
        code = parse_qs(urlparse(authorized.headers["location"]).query)["code"][0]
        tokens = client.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            auth=(client_id, "secret-du-client"),
        ).raise_for_status()
    return tokens.json()["id_token"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, embedder, postgresql, chroma_server):
    """An index of elections (everyone) and rh (HR only), an OIDC provider, API keys, and the API serving them —
    deployed as a site would: vectors in the Chroma server, the shared state in PostgreSQL."""
    tmp_path = tmp_path_factory.mktemp("api")
    host, port = chroma_server
    settings = make_settings(tmp_path, host=host, port=port, collection="api")
    settings.store.database_url = postgresql.database("api")
    copy_into(settings.corpus_dir, "elections", REPO / "corpus" / "elections" / "F1965.html")
    copy_into(settings.corpus_dir, "rh", REPO / "corpus" / "rh" / "F544.html", REPO / "corpus" / "rh" / "F490.html")
    policy = tmp_path / "acces.toml"
    policy.write_text(HR_POLICY, encoding="utf-8")
    settings.access.policy = policy
    IngestionPipeline(settings, embedder=embedder).run()
    keys = ApiKeys.of(settings.store)
    secrets = {name: keys.add(name, groups)[1] for name, groups in
               {"intranet": ["accueil"], "rh-bot": ["rh"], "supervision": ["dsi"]}.items()}  # fmt: skip
    with (
        run_server_in_thread(user_claims=[HR_REFERENT, AGENT]) as provider,
        contextlib.closing(OllamaStandIn(models=["qwen2.5:7b-instruct"])) as standin,
    ):
        provider_url = f"http://localhost:{provider.server_port}"
        settings.api.oidc_issuer, settings.api.oidc_audience = provider_url, CLIENT_ID
        settings.llm.backend, settings.llm.ollama_host = LLMBackendKind.OLLAMA, standin.url
        with uvicorn_server(create_app(settings, embedder=embedder)) as url:
            yield {"url": url, "settings": settings, "keys": secrets, "provider": provider_url, "standin": standin}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event, data) pairs of a server-sent event stream."""
    import json

    events, name, data = [], "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
    return events


def ask(url: str, credential: str, question: str, **body) -> list[tuple[str, dict]]:
    with httpx.stream("POST", f"{url}/v1/ask", json={"question": question, **body}, headers=bearer(credential),
                      timeout=120) as response:  # fmt: skip
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response)


# --- who may call ---------------------------------------------------------------------------------------------


def test_no_credential_a_wrong_key_or_a_forged_token_get_a_french_401(deployment):
    url, provider = deployment["url"], deployment["provider"]
    other_key = RSAKey.generate_key(2048, parameters={"kid": "faux"})
    forged = jwt.encode(
        {"alg": "RS256", "kid": "faux"},
        {"iss": provider, "aud": CLIENT_ID, "email": "pirate@exemple.fr", "groups": ["dsi"], "exp": time.time() + 600},
        other_key,
    )
    for headers in (
        {},
        bearer("sourcier_inconnue"),
        bearer(forged),
        bearer(oidc_token(provider, AGENT, client_id="une-autre-application")),  # right provider, wrong audience
        {"Authorization": "Basic Y2xhaXJlOnNlY3JldA=="},
    ):
        response = httpx.get(f"{url}/v1/documents", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        problem = response.json()
        assert problem["status"] == 401 and problem["title"] == "Identification requise"
        assert any(word in problem["detail"] for word in ("Identification", "Clé d'API", "Jeton refusé"))


def test_a_key_or_token_of_one_group_never_gets_another_groups_chunks(deployment):
    url, keys, provider = deployment["url"], deployment["keys"], deployment["provider"]
    agent_token, referent_token = oidc_token(provider, AGENT), oidc_token(provider, HR_REFERENT)
    for question in QUESTIONS:
        for credential, may_read_hr in (
            (keys["intranet"], False), (agent_token, False), (keys["rh-bot"], True), (referent_token, True),
        ):  # fmt: skip
            results = httpx.post(f"{url}/v1/search", json={"query": question, "limit": 8}, headers=bearer(credential))
            assert results.status_code == 200, results.text
            paths = {result["path"] for result in results.json()["results"]}
            assert may_read_hr or not any(path.startswith("rh/") for path in paths), (question, paths)

            events = ask(url, credential, question)
            kinds = [name for name, _ in events]
            assert kinds[0] == "progress" and "extracts" in kinds and kinds[-1] == "answer", kinds
            answer = events[-1][1]
            shown = {s["path"] for _, data in events if "sources" in data for s in data["sources"]}
            shown |= {s["path"] for s in answer["sources"]}
            assert may_read_hr or not any(path.startswith("rh/") for path in shown), (question, shown)
            if may_read_hr and question == HR_QUESTION:
                assert any(s["title"].startswith(tuple(HR_TITLES)) for s in answer["sources"])

    # Who asked is in the audit trail, key or person.
    users = {event.user for event in AuditLog.for_settings(deployment["settings"]).events([AuditKind.QUESTION])}
    assert {"intranet (clé d'API)", "rh-bot (clé d'API)", "jean.accueil@mairie.fr", "claire.rh@mairie.fr"} <= users


def test_documents_and_files_follow_the_same_rights(deployment):
    url, keys = deployment["url"], deployment["keys"]
    listed = {
        name: {d["path"]: d for d in httpx.get(f"{url}/v1/documents", headers=bearer(keys[name])).json()}
        for name in ("intranet", "rh-bot")
    }
    assert set(listed["intranet"]) == {"elections/F1965.html"}
    assert {"rh/F544.html", "rh/F490.html"} <= set(listed["rh-bot"])

    hr_document = listed["rh-bot"]["rh/F544.html"]
    downloaded = httpx.get(f"{url}/v1/documents/{hr_document['id']}/file", headers=bearer(keys["rh-bot"]))
    assert downloaded.status_code == 200
    assert downloaded.content == (deployment["settings"].corpus_dir / "rh" / "F544.html").read_bytes()
    refused = httpx.get(f"{url}/v1/documents/{hr_document['id']}/file", headers=bearer(keys["intranet"]))
    assert refused.status_code == 404 and "pouvez lire" in refused.json()["detail"]
    assert refused.content.find(b"F544") == -1  # not even its name
    denied = AuditLog.for_settings(deployment["settings"]).events([AuditKind.DENIED], user="intranet")
    assert any("rh/F544.html" in str(event.detail) for event in denied)


# --- OpenAI-compatible ----------------------------------------------------------------------------------------


def test_the_official_openai_client_works_unchanged(deployment):
    client = openai.OpenAI(base_url=f"{deployment['url']}/v1", api_key=deployment["keys"]["rh-bot"], max_retries=0)
    assert [model.id for model in client.models.list()] == ["sourcier"]
    messages = [{"role": "system", "content": "Réponds en anglais."}, {"role": "user", "content": HR_QUESTION}]

    completion = client.chat.completions.create(model="sourcier", messages=messages)
    text = completion.choices[0].message.content
    assert "Sources :\n[1] " in text
    sources = completion.model_extra["sources"]
    assert sources and all(s["path"].startswith(("rh/", "elections/")) for s in sources)
    assert completion.model_extra["sourcier"]["abstained"] is False

    chunks = list(client.chat.completions.create(model="sourcier", messages=messages, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["sources"] == sources

    # A follow-up: the earlier exchange travels as messages, the sources list of the earlier answer is dropped.
    follow_up = messages + [{"role": "assistant", "content": text}, {"role": "user", "content": "Et à mi-temps ?"}]
    assert client.chat.completions.create(model="sourcier", messages=follow_up).choices[0].message.content

    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=messages)
    assert "le seul modèle est « sourcier »" in unknown.value.response.json()["detail"]
    with pytest.raises(openai.BadRequestError) as no_question:
        client.chat.completions.create(model="sourcier", messages=[{"role": "assistant", "content": "Bonjour"}])
    assert "rôle « user »" in no_question.value.response.json()["detail"]


# --- the rest of the surface ----------------------------------------------------------------------------------


def test_bad_requests_get_french_problem_details(deployment):
    url, key = deployment["url"], deployment["keys"]["intranet"]
    empty = httpx.post(f"{url}/v1/ask", json={"question": ""}, headers=bearer(key))
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    assert empty.json()["detail"] == "Requête invalide — question : au moins 1 caractère."
    unknown_field = httpx.post(f"{url}/v1/search", json={"query": "x", "filtre": 1}, headers=bearer(key))
    assert "filtre : champ inconnu" in unknown_field.json()["detail"]
    not_json = httpx.post(f"{url}/v1/search", content=b"{", headers={**bearer(key), "Content-Type": "application/json"})
    assert not_json.status_code == 422 and "JSON invalide" in not_json.json()["detail"]
    nowhere = httpx.get(f"{url}/v1/nulle-part", headers=bearer(key))
    assert nowhere.status_code == 404 and nowhere.json()["detail"].startswith("Cette adresse")


def test_feedback_report_and_admin_routes(deployment):
    url, keys, settings = deployment["url"], deployment["keys"], deployment["settings"]
    given = httpx.post(
        f"{url}/v1/feedback",
        json={"question": HR_QUESTION, "answer": "Un an.", "rating": -1, "comment": "Incomplet"},
        headers=bearer(keys["intranet"]),
    )
    assert given.status_code == 201
    stored = FeedbackStore.of(settings.store).feedback()
    assert any(f["id"] == given.json()["id"] and f["comment"] == "Incomplet" for f in stored)

    no_report = httpx.get(f"{url}/v1/report", headers=bearer(keys["rh-bot"]))
    assert no_report.status_code == 404 and "rapport de qualité" in no_report.json()["detail"]

    for route in ("/v1/ingest/status",):
        refused = httpx.get(f"{url}{route}", headers=bearer(keys["intranet"]))
        assert refused.status_code == 403 and "administrateurs" in refused.json()["detail"]
    refused = httpx.post(f"{url}/v1/ingest", headers=bearer(keys["rh-bot"]))
    assert refused.status_code == 403
    status = httpx.get(f"{url}/v1/ingest/status", headers=bearer(keys["supervision"]))
    assert status.status_code == 200 and status.json()["documents"] == 3 and status.json()["running"] is False

    docs = httpx.get(f"{url}/docs")  # the OpenAPI page works offline: its scripts are served by the API itself
    assert docs.status_code == 200 and "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert httpx.get(f"{url}/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_a_busy_replica_says_so_at_once_instead_of_hanging(deployment, embedder):
    settings = deployment["settings"].model_copy(deep=True)
    settings.api.max_generations, settings.api.queue_s = 1, 0.2
    with contextlib.closing(OllamaStandIn(models=["qwen2.5:7b-instruct"], word_delay=0.5)) as slow:
        settings.llm.ollama_host = slow.url
        with uvicorn_server(create_app(settings, embedder=embedder)) as url:
            key = deployment["keys"]["rh-bot"]
            first = threading.Thread(target=ask, args=(url, key, HR_QUESTION))
            first.start()
            deadline = time.monotonic() + 30
            while not slow.requests:  # the first answer is being written
                assert time.monotonic() < deadline
                time.sleep(0.05)
            busy = httpx.post(f"{url}/v1/ask", json={"question": QUESTIONS[1]}, headers=bearer(key))
            first.join(timeout=120)
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert busy.json()["detail"].startswith("Serveur occupé")
            # Once the first answer is sent, the slot is free again.
            assert ask(url, key, QUESTIONS[1])[-1][0] == "answer"
