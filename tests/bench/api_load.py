"""API load benchmark (`make bench`): prints figures, asserts nothing. Loopback only, bounded in time.

Two API replicas (`sourcier serve`, separate processes) share one index — vectors in a `chroma run` server, the
manifest, audit trail and feedback in PostgreSQL (`--sqlite`: in the store folder) — and an LLM stand-in of fixed
latency (Ollama's protocol, a fixed answer streamed word by word). N concurrent clients ask questions for D seconds,
each through « its » replica and, on a refused connection or « serveur occupé », again through the other one; every
fifth answer gets a feedback. Meanwhile an admin starts an ingestion of new documents through replica 1, and replica
2 is killed (SIGKILL) a third of the way in and restarted a little later. Figures: throughput, p50/p95 of retrieval
(the `extracts` event) and of time to first byte, errors, retries, audit rows and feedback lost.

    python -m tests.bench.api_load [--clients 50] [--seconds 120] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import sourcier  # noqa: F401
from ingest.pipeline import IngestionPipeline
from sourcier.api_keys import ApiKeys
from sourcier.audit import AuditKind, AuditLog
from sourcier.feedback import FeedbackStore
from sourcier.settings import EmbeddingSettings, LLMBackendKind, Settings, StoreSettings
from tests.conftest import FICHES, PostgreSQL, free_port
from tests.ollama_standin import OllamaStandIn
from tests.replicas import Replica

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["associations", "cimetiere", "elections", "enfance", "etat-civil", "rh", "urbanisme"]
QUESTIONS = [
    "Quel justificatif de domicile faut-il pour s'inscrire sur la liste électorale ?",
    "Combien de temps dure une concession funéraire ?",
    "Que doit contenir le dossier d'une demande de permis de construire ?",
    "Combien de temps dure le congé de maladie ordinaire d'un fonctionnaire ?",
    "Comment déclarer une association en préfecture ?",
    "Quels documents pour un acte de naissance ?",
    "Comment inscrire mon enfant à la cantine ?",
    "Un fonctionnaire peut-il demander une disponibilité ?",
]
ATTEMPTS = 8  # per question, alternating replicas
WORD_DELAY_S = 0.1  # the stand-in writes its 12-word answer in ~1.2 s, whatever the load: an LLM of fixed latency


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Busy(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


class Figures:
    def __init__(self) -> None:
        self.retrieval: list[float] = []
        self.first_byte: list[float] = []
        self.total: list[float] = []
        self.answers = 0
        self.errors: list[str] = []
        self.retries = 0
        self.busy = 0
        self.feedback_sent = 0
        self.server_side: list[tuple] = []  # (retrieval_s, first_token_s, total_s) as the answer reports them


async def ask(client: httpx.AsyncClient, url: str, key: str, question: str, figures: Figures) -> dict:
    started = time.perf_counter()
    first_byte = None
    answer = None
    headers = {"Authorization": f"Bearer {key}"}
    async with client.stream("POST", f"{url}/v1/ask", json={"question": question}, headers=headers) as response:
        if response.status_code == 503:
            figures.busy += 1
            raise Busy(float(response.headers.get("retry-after", "1")))
        response.raise_for_status()
        event = None
        async for line in response.aiter_lines():
            if first_byte is None:
                first_byte = time.perf_counter() - started
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "extracts":
                    figures.retrieval.append(time.perf_counter() - started)
            elif line.startswith("data:") and event == "answer":
                answer = json.loads(line[5:])
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(line[5:])
    if answer is None:  # the replica went away mid-answer (killed): asked again, like a refused connection
        raise ConnectionResetError("stream cut before the answer")
    figures.first_byte.append(first_byte or 0.0)
    figures.total.append(time.perf_counter() - started)
    return answer


async def client_loop(number: int, replicas: list[Replica], key: str, deadline: float, figures: Figures) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5)) as client:
        done = 0
        while time.monotonic() < deadline:
            question = rng.choice(QUESTIONS)
            order = [replicas[number % 2], replicas[1 - number % 2]]
            for attempt in range(ATTEMPTS):
                replica = order[attempt % 2]
                try:
                    answer = await ask(client, replica.url, key, question, figures)
                    break
                except Busy as busy:  # as a well-behaved client does: the other replica, then wait as told
                    figures.retries += 1
                    if attempt % 2:
                        await asyncio.sleep(busy.retry_after)
                except (httpx.TransportError, ConnectionError):
                    figures.retries += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                except Exception as error:  # noqa: BLE001 — counted, the run goes on
                    figures.errors.append(f"{type(error).__name__}: {str(error)[:200]}")
                    answer = None
                    break
            else:
                figures.errors.append(f"no replica answered after {ATTEMPTS} attempts")
                continue
            if answer is None:
                continue
            figures.answers += 1
            figures.server_side.append((answer["retrieval_s"], answer["first_token_s"], answer["total_s"]))
            done += 1
            if done % 5 == 0:
                feedback = {"question": question, "answer": answer["text"][:500], "rating": 1}
                for attempt in range(6):
                    try:
                        sent = await client.post(
                            f"{order[attempt % 2].url}/v1/feedback", json=feedback,
                            headers={"Authorization": f"Bearer {key}"},
                        )  # fmt: skip
                        sent.raise_for_status()
                        figures.feedback_sent += 1
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2 * (attempt + 1))


async def admin_ingestion(replica: Replica, key: str, corpus: Path, at: float, started: float) -> dict:
    await asyncio.sleep(at)
    extra = corpus / "fiches"
    extra.mkdir(parents=True, exist_ok=True)
    for fiche in sorted(FICHES.glob("F*.html"))[:40]:
        shutil.copy(fiche, extra / fiche.name)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30) as client:
        (await client.post(f"{replica.url}/v1/ingest", json={}, headers=headers)).raise_for_status()
        began = time.monotonic()
        while True:
            await asyncio.sleep(2)
            with contextlib.suppress(httpx.HTTPError):
                status = (await client.get(f"{replica.url}/v1/ingest/status", headers=headers)).json()
                if not status["running"] and status["progress"] and status["progress"]["finished"]:
                    return {
                        "started_at_s": round(began - started, 1),
                        "duration_s": round(time.monotonic() - began, 1),
                        "documents": status["documents"],
                        "error": status["progress"]["error"],
                    }


async def kill_and_restart(replica: Replica, kill_at: float, restart_at: float, started: float) -> dict:
    await asyncio.sleep(kill_at)
    replica.kill()
    killed = time.monotonic() - started
    await asyncio.sleep(restart_at - kill_at)
    await asyncio.to_thread(replica.start)
    return {"killed_at_s": round(killed, 1), "back_at_s": round(time.monotonic() - started, 1)}


async def run(replicas: list[Replica], keys: dict[str, str], corpus: Path, clients: int, seconds: float) -> dict:
    figures = Figures()
    started = time.monotonic()
    deadline = started + seconds
    tasks = [client_loop(n, replicas, keys["bench"], deadline, figures) for n in range(clients)]
    ingestion = asyncio.create_task(admin_ingestion(replicas[0], keys["admin"], corpus, seconds * 0.1, started))
    outage = asyncio.create_task(kill_and_restart(replicas[1], seconds / 3, seconds / 3 + 15, started))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    return {
        "figures": figures,
        "elapsed_s": elapsed,
        "ingestion": await ingestion,
        "outage": await outage,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--max-generations", type=int, default=8)
    parser.add_argument("--sqlite", action="store_true", help="the shared state in SQLite (one server) instead")
    args = parser.parse_args()
    database = None if args.sqlite else PostgreSQL().start()

    with (
        tempfile.TemporaryDirectory() as tmp,
        contextlib.closing(OllamaStandIn(models=["qwen2.5:7b-instruct"], word_delay=WORD_DELAY_S)) as standin,
    ):
        root = Path(tmp)
        for service in SERVICES:
            shutil.copytree(REPO / "corpus" / service, root / "corpus" / service)
        policy = root / "acces.toml"
        services = [*SERVICES, "fiches"]
        policy.write_text(
            'admins = ["dsi"]\n[services]\n' + "".join(f'{s} = ["tous"]\n' for s in services), encoding="utf-8"
        )
        chroma_port = free_port()
        chroma = subprocess.Popen(
            [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(root / "chroma"),
             "--host", "127.0.0.1", "--port", str(chroma_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        replicas: list[Replica] = []
        try:
            time.sleep(5)
            settings = Settings(
                corpus_dir=root / "corpus",
                store=StoreSettings(path=root / "vectorstore", host="127.0.0.1", port=chroma_port),
                embedding=EmbeddingSettings(models_dir=REPO / "models"),
            )
            settings.access.policy = policy
            if database is not None:
                settings.store.database_url = database.database("charge")
            settings.llm.backend, settings.llm.ollama_host = LLMBackendKind.OLLAMA, standin.url
            settings.api.max_generations = args.max_generations
            settings.ingest.ocr = False
            IngestionPipeline(settings).run()
            keys = {
                "bench": ApiKeys.of(settings.store).add("bench", ["tous"])[1],
                "admin": ApiKeys.of(settings.store).add("admin", ["dsi"])[1],
            }
            replicas = [Replica(settings, root / f"replica{n}.log") for n in (1, 2)]
            for replica in replicas:
                replica.start()
            outcome = asyncio.run(run(replicas, keys, settings.corpus_dir, args.clients, args.seconds))
            for replica in replicas:
                replica.stop()
            figures: Figures = outcome["figures"]
            audited = AuditLog.for_settings(settings).events([AuditKind.QUESTION], user="bench")
            answered_rows = [e for e in audited if not e.detail.get("failed")]
            stored_feedback = len(FeedbackStore.of(settings.store).feedback())
            print(
                json.dumps(
                    {
                        "clients": args.clients,
                        "seconds": round(outcome["elapsed_s"], 1),
                        "replicas": 2,
                        "shared_state": "SQLite" if args.sqlite else "PostgreSQL",
                        "max_generations_per_replica": args.max_generations,
                        "llm_standin_answer_s": round(WORD_DELAY_S * 12, 1),
                        "answers": figures.answers,
                        "answers_per_s": round(figures.answers / outcome["elapsed_s"], 2),
                        "retrieval_p50_s": percentile(figures.retrieval, 0.5),
                        "retrieval_p95_s": percentile(figures.retrieval, 0.95),
                        "first_byte_p50_s": percentile(figures.first_byte, 0.5),
                        "first_byte_p95_s": percentile(figures.first_byte, 0.95),
                        "answer_p50_s": percentile(figures.total, 0.5),
                        "answer_p95_s": percentile(figures.total, 0.95),
                        "errors": len(figures.errors),
                        "error_kinds": sorted(set(figures.errors))[:5],
                        "retries": figures.retries,
                        "busy_503": figures.busy,
                        "audit_rows_lost": max(0, figures.answers - len(answered_rows)),
                        "feedback_lost": figures.feedback_sent - stored_feedback,
                        "ingestion": outcome["ingestion"],
                        "replica_2_outage": outcome["outage"],
                        "mean_answer_s": round(statistics.mean(figures.total), 3) if figures.total else None,
                        "server_side_p50": [
                            percentile([t[i] or 0 for t in figures.server_side], 0.5) for i in range(3)
                        ],
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
        finally:
            for replica in replicas:
                replica.stop()
            chroma.terminate()
            chroma.wait(timeout=30)
            if database is not None:
                database.stop()


if __name__ == "__main__":
    main()
