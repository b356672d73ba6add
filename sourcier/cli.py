"""The `sourcier` command: ingest, status, models (and, later, ask/chat/eval/report)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sourcier.errors import SourcierError
from sourcier.settings import Settings, load_settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sourcier", description="Sourcier : assistant documentaire hors ligne.")
    parser.add_argument("--config", type=Path, help="fichier de configuration TOML (défaut : ./sourcier.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="indexer le corpus (incrémental)")
    ingest.add_argument("paths", nargs="*", type=Path, help="fichiers ou dossiers du corpus (défaut : tout)")
    ingest.add_argument("--rebuild", action="store_true", help="reconstruire l'index depuis zéro")
    ingest.add_argument("--quiet", action="store_true", help="sans barre de progression")

    status = commands.add_parser("status", help="état de l'index")
    status.add_argument("--json", action="store_true")

    commands.add_parser("models", help="préparer le modèle d'embedding hors ligne")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = load_settings(args.config)
        return {"ingest": _ingest, "status": _status, "models": _models}[args.command](settings, args)
    except SourcierError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("Interrompu. L'index reste utilisable ; relancez la commande pour terminer.", file=sys.stderr)
        return 130


def _ingest(settings: Settings, args) -> int:
    from ingest.pipeline import IngestionPipeline
    from ingest.report import LABELS
    from sourcier.progress_bar import TerminalProgress

    bar = TerminalProgress(disabled=args.quiet)
    try:
        report = IngestionPipeline(settings, callbacks=[bar]).run(args.paths, rebuild=args.rebuild)
    finally:
        bar.close()
    for file in report.problems:
        print(f"  [{LABELS[file.status]}] {file.path} — {file.reason}")
    print(report.summary())
    print(f"Rapport : {settings.store.path / 'last_ingestion.json'}")
    return EXIT_OK


def _status(settings: Settings, args) -> int:
    from ingest.status import index_status

    status = index_status(settings)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=1))
        return EXIT_OK
    print(f"Index : {status['store']} (collection « {status['collection']} »)")
    print(f"Modèle d'embedding : {status['embedding_model']}")
    print(f"Corpus : {status['corpus']}")
    print(f"Documents : {status['documents']} ({_format_counts(status['documents_by_status'])})")
    print(f"Extraits indexés : {status['chunks']}")
    last = status.get("last_run")
    if last:
        print(f"Dernière ingestion : {last['finished_at']} ({last['duration_s']:.1f} s)")
    else:
        print("Dernière ingestion : aucune — lancez « sourcier ingest ».")
    if status["problems"]:
        print(f"Documents à problème : {len(status['problems'])}")
        for problem in status["problems"]:
            print(f"  - {problem['path']} : {problem['reason']}")
    if status.get("ingestion_running"):
        print("Une ingestion est en cours.")
    return EXIT_OK


def _format_counts(counts: dict[str, int]) -> str:
    from ingest.report import LABELS

    return ", ".join(f"{n} {LABELS.get(k, k)}" for k, n in counts.items()) or "aucun"


def _models(settings: Settings, args) -> int:
    from sourcier.models import resolve_embedding_model

    info = resolve_embedding_model(settings.embedding)
    print(f"Modèle d'embedding prêt : {info.name} ({info.path})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
