"""The `sourcier` command: ingest, status, ask, chat, report, mark, eval, models, serve — an interface, like the
pages."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import sourcier  # noqa: F401  (offline environment before any third-party import)
from quality.findings import FindingStatus
from sourcier.audit import AuditKind
from sourcier.errors import ConfigurationError, InputError, SourcierError
from sourcier.french import location, plural
from sourcier.layout import StoreLayout
from sourcier.settings import EmbeddingRuntime, Settings, load_settings
from ui import admin_cli

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# argparse's own words, in French (it looks them up through gettext at each call; no French catalogue ships).
_ARGPARSE_FRENCH = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "afficher cette aide et quitter",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (possibles : %(choices)s)",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "expected one argument": "une valeur attendue",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s (%(matches)s ?)",
}
argparse._ = lambda message: _ARGPARSE_FRENCH.get(message, message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sourcier", description="Sourcier : assistant documentaire hors ligne.")
    parser.add_argument(
        "--config", type=Path, metavar="FICHIER", help="fichier de configuration TOML (défaut : ./sourcier.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    parser.add_argument(
        "--as", dest="as_user", metavar="UTILISATEUR", help="agir au nom de cet utilisateur (ses droits)"
    )
    # The app's background ingestion hands its child the settings it runs with, as JSON on stdin.
    parser.add_argument("--settings-stdin", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="indexer le corpus (incrémental)")
    ingest.add_argument("paths", nargs="*", type=Path, help="fichiers ou dossiers du corpus (défaut : tout)")
    ingest.add_argument("--rebuild", action="store_true", help="reconstruire l'index depuis zéro")
    ingest.add_argument("--quiet", action="store_true", help="sans barre de progression")
    ingest.add_argument("--no-report", action="store_true", help="ne pas recalculer le rapport de qualité ensuite")

    report = commands.add_parser("report", help="rapport de qualité des documents")
    report.add_argument("--format", choices=["html", "csv", "json"], default="html")
    report.add_argument("--output", type=Path, help="fichier à écrire (défaut : vectorstore/qualite.<format>)")

    quality_eval = commands.add_parser("quality-eval", help="précision/rappel du rapport de qualité sur un jeu annoté")
    quality_eval.add_argument("labels", type=Path, help="labels.json écrit par « eval-prepare quality »")
    quality_eval.add_argument("--shared", type=Path, default=Path("../shared/corpora"))
    quality_eval.add_argument("--output", type=Path, help="écrire les résultats en JSON")

    mark = commands.add_parser("mark", help="marquer un constat du rapport de qualité")
    mark.add_argument("finding", help="identifiant du constat (12 caractères)")
    mark.add_argument("status", choices=[status.value for status in FindingStatus])
    mark.add_argument("--note", help="commentaire")

    status = commands.add_parser("status", help="état de l'index")
    status.add_argument("--json", action="store_true")

    commands.add_parser("models", help="préparer les modèles hors ligne (embedding et LLM intégré)")

    commands.add_parser("llm", help="démarrer le modèle de langage intégré et le garder prêt entre les questions")

    ask = commands.add_parser("ask", help="poser une question aux documents")
    ask.add_argument("question")
    ask.add_argument("--service", action="append", default=[], help="restreindre à un service (répétable)")
    ask.add_argument("--format", action="append", default=[], help="restreindre à un format : pdf, html… (répétable)")
    ask.add_argument("--json", action="store_true", help="résultat structuré (JSON)")

    evaluate = commands.add_parser("eval", help="évaluer la recherche et les réponses sur un jeu de questions")
    evaluate.add_argument("questions", type=Path, help="JSONL : question, gold_docs, key_terms, expect_abstain")
    evaluate.add_argument("--mode", choices=["hybrid", "dense", "bm25", "all"], default="all")
    evaluate.add_argument("--llm", action="store_true", help="générer aussi les réponses (lent)")
    evaluate.add_argument(
        "--sample", type=int, default=None, help="avec --llm : répondre à N questions réparties dans le jeu"
    )
    evaluate.add_argument("--output", type=Path, help="écrire les résultats en JSON")

    prepare = commands.add_parser(
        "eval-prepare", help="convertir un jeu de ../shared/corpora (faq, gennevilliers, cdtn, servicepublic)"
    )
    prepare.add_argument("dataset", choices=["faq", "gennevilliers", "cdtn", "servicepublic", "quality"])
    prepare.add_argument("--shared", type=Path, default=Path("../shared/corpora"))
    prepare.add_argument("--out", type=Path, required=True)

    chat = commands.add_parser("chat", help="conversation (les questions de suivi sont comprises)")
    chat.add_argument("--service", action="append", default=[])
    chat.add_argument("--format", action="append", default=[])

    falc = commands.add_parser("falc", help="brouillon « facile à lire et à comprendre » (FALC) de documents")
    falc.add_argument("paths", nargs="+", type=Path, help="fichiers ou dossiers (un guide des aides entier)")
    falc.add_argument("--output", type=Path, default=Path("brouillons-falc"), help="dossier où écrire les brouillons")
    falc.add_argument(
        "--format", action="append", choices=["md", "docx", "odt"], help="formats à écrire (défaut : les trois)"
    )

    admin_cli.add_parsers(commands)

    args = parser.parse_args(argv)
    # What Sourcier writes (the index, the state database, reports, caches) is readable by its account only.
    os.umask(0o077)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = _settings_from_stdin(args) if args.settings_stdin else load_settings(args.config)
        if args.command in ("app", "serve"):
            return getattr(admin_cli, args.command)(settings, args)
        reader = admin_cli.acting_reader(settings, args, args.command)
        if args.command in admin_cli.HANDLERS:
            return admin_cli.HANDLERS[args.command](settings, args, reader)
        args.reader = reader
        handlers = {
            "ingest": _ingest,
            "report": _report,
            "mark": _mark,
            "quality-eval": _quality_eval,
            "status": _status,
            "models": _models,
            "llm": _llm,
            "ask": _ask,
            "chat": _chat,
            "eval": _eval,
            "eval-prepare": _eval_prepare,
            "falc": _falc,
        }
        return handlers[args.command](settings, args)
    except SourcierError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("Interrompu. L'index reste utilisable ; relancez la commande pour terminer.", file=sys.stderr)
        return 130


def _settings_from_stdin(args) -> Settings:
    """The settings of the process that started this one (the app's or the API's background ingestion, a test's
    replica), and who asked: they change where the command reads and writes, never who it runs as."""
    try:
        payload = json.loads(sys.stdin.read())
        settings = Settings.model_validate(payload["settings"])
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"Réglages reçus illisibles : {error}") from None
    args.started_by = payload.get("started_by")
    return settings


def _ingest(settings: Settings, args) -> int:
    from ingest.pipeline import IngestionPipeline
    from ui.terminal import TerminalProgress

    bar = TerminalProgress(disabled=args.quiet)
    bar.announce()
    pipeline = IngestionPipeline(settings, callbacks=[bar])
    try:
        report = pipeline.run(args.paths, rebuild=args.rebuild)
    finally:
        bar.close()
    _audit(settings, args, AuditKind.INGESTION, run=report.run_id, rebuild=args.rebuild,
           paths=[str(p) for p in args.paths][:50])  # fmt: skip
    for file in report.problems:
        print(f"  [{file.status.label}] {file.path} — {file.reason}")
    print(report.summary())
    print(f"Rapport : {StoreLayout(settings.store.path).last_ingestion}")
    if not args.no_report and not report.index_changed and StoreLayout(settings.store.path).quality_report.exists():
        # 86 s of a 126 s unchanged re-run went to recomputing the same report.
        print("Index inchangé : le rapport de qualité reste celui de la dernière fois (« sourcier report » le refait).")
    elif not args.no_report:
        from quality.report import build_report

        try:
            quality = build_report(settings, pipeline.embedder)
        except Exception as exc:  # the index is done and sound: a failing report must not fail the ingestion
            logging.getLogger(__name__).exception("quality report failed")
            print(f"Rapport de qualité non calculé ({exc}) ; l'index est à jour. Relancez « sourcier report ».")
        else:
            opened = plural(len(quality.open_findings()), "constat ouvert", "constats ouverts")
            print(f"Qualité des documents : {opened} ; « sourcier report ».")
    return EXIT_OK


def _falc(settings: Settings, args) -> int:
    from falc.export import ExportFormat
    from falc.rewrite import writer_for
    from falc.source import DocumentReader

    files = _falc_files(args.paths, settings.ingest.extensions)
    formats = [ExportFormat(value) for value in (args.format or ["md", "docx", "odt"])]
    args.output.mkdir(parents=True, exist_ok=True)
    writer, failed = writer_for(settings), 0
    with DocumentReader(settings) as reader:
        for number, path in enumerate(files, start=1):
            failed += not _falc_one(reader, writer, path, f"[{number}/{len(files)}] {path.name}", formats, args.output)
    print(f"Brouillons écrits dans {args.output}/ (à faire relire avant toute diffusion).")
    return EXIT_FAILURE if failed else EXIT_OK


def _falc_one(reader, writer, path: Path, label: str, formats, output: Path) -> bool:
    from tqdm import tqdm

    from falc.export import export
    from falc.rules import measure
    from sourcier.errors import DocumentError

    try:
        document = reader.read(path)
    except DocumentError as exc:
        print(f"{label} : illisible, ignoré — {exc}", file=sys.stderr)
        return False
    with tqdm(total=document.passages, desc=label, unit=" passage", file=sys.stderr, leave=False) as bar:
        draft = writer.write(document, lambda done, total: bar.update(done - bar.n))
    for format in formats:
        (output / f"{path.stem}.falc.{format.value}").write_bytes(export(draft, format))
    before = measure("\n".join(p.source for p in draft.passages))
    after = measure("\n".join(p.draft for p in draft.passages))
    to_rewrite = sum(p.to_rewrite for p in draft.passages)
    checks = [p.meaning() for p in draft.passages]
    fragments = sum(len(check.fragments) for check in checks)
    dropped = sum(len(p.dropped) for p in draft.passages)
    print(
        f"{label} : {plural(len(draft.passages), 'passage')}, {plural(to_rewrite, 'passage')} à réécrire à la main ; "
        f"phrases de 15 mots ou moins : {after.short_share:.0%} ; lisibilité (Kandel-Moles) "
        f"{before.kandel_moles:.0f} → {after.kandel_moles:.0f} ; {plural(after.breaches, 'point')} à revoir "
        f"(règles FALC) ; {plural(fragments, 'phrase incomplète', 'phrases incomplètes')} ; "
        f"{plural(dropped, 'phrase retirée', 'phrases retirées')} (absentes du document)."
    )
    return True


def _falc_files(paths: list[Path], extensions: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"Fichier ou dossier introuvable : {path}")
    if not files:
        raise InputError("Aucun document à réécrire dans les chemins donnés.")
    return files


def _audit(settings: Settings, args, kind, **detail) -> None:
    from sourcier.audit import AuditLog

    AuditLog.for_settings(settings).record(kind, args.reader, **detail)


def _report(settings: Settings, args) -> int:
    from ingest.embed import Embedder
    from quality.findings import TYPES
    from quality.render import RENDERERS
    from quality.report import build_report

    # The same report as the app's: coverage gaps are grouped by meaning with the embedding model.
    report = build_report(
        settings, Embedder(settings.embedding), progress=lambda message: print(f"  {message}", file=sys.stderr)
    )
    output = args.output or StoreLayout(settings.store.path).quality_export(args.format)
    output.write_text(RENDERERS[args.format](report), encoding="utf-8")
    _audit(settings, args, AuditKind.REPORT, action=f"calcul et export {args.format}")
    counts = report.counts()
    opened = plural(counts["total"], "constat ouvert", "constats ouverts")
    print(f"{plural(report.documents, 'document')}, {opened} en {_seconds(report.timings['total'])} s.")
    for kind, count in sorted(counts["by_type"].items(), key=lambda item: -item[1]):
        print(f"  {TYPES[kind]} : {count}")
    print(f"Rapport écrit : {output}")
    return EXIT_OK


def _quality_eval(settings: Settings, args) -> int:
    import json

    from quality.evaluate import score, score_nli
    from quality.report import build_report

    report = build_report(settings)
    results = score(report.to_dict(), json.loads(args.labels.read_text()))
    results["nli_fr"] = score_nli(args.shared)
    results["timings"] = report.timings
    listed = results.pop("contradictions_listed")
    for name, figures in results.items():
        print(f"{name:<48} {json.dumps(figures, ensure_ascii=False)}")
    print("Contradictions signalées :")
    for item in listed:
        print(f"  {' | '.join(item['places'])} — {item['what']}")
    if args.output:
        args.output.write_text(json.dumps({**results, "contradictions": listed}, ensure_ascii=False, indent=1))
    return EXIT_OK


def _mark(settings: Settings, args) -> int:
    from quality.state import QualityState

    QualityState(settings.store).mark(args.finding, args.status, args.note)
    _audit(settings, args, AuditKind.MARK, finding=args.finding, status=args.status)
    print(f"Constat {args.finding} : {args.status}.")
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
        print(f"Dernière ingestion : {last['finished_at']} ({_seconds(last['duration_s'])} s)")
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
    from ingest.report import DocumentStatus

    return ", ".join(DocumentStatus(k).count(n) for k, n in counts.items()) or "aucun"


def _models(settings: Settings, args) -> int:
    from sourcier.models.embedding import resolve_embedding_model
    from sourcier.models.gguf import assemble_gguf

    info = resolve_embedding_model(settings.embedding)
    print(f"Modèle d'embedding prêt : {info.name} ({info.path})")
    if settings.embedding.runtime is EmbeddingRuntime.OPENVINO:
        from ingest.embed import Embedder

        print(f"Version OpenVINO prête : {Embedder(settings.embedding).onnx_model}")
    gguf = assemble_gguf(settings.embedding.models_dir)
    print(f"Modèle de langage intégré prêt : {gguf}")
    return EXIT_OK


def _seconds(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")  # « 9,7 s »


def _where(args) -> dict | None:
    """The retrieval filter: applied inside both retrievers, never to their results."""
    from ingest.live import narrowed_to

    return narrowed_to(args.service or (), args.format or ())


def _print_sources(answer) -> None:
    if not answer.sources:
        return
    print("\nDocuments les plus proches :" if answer.abstained else "\nSources :")
    for source in answer.sources:
        place = location(source.page, source.section)
        excerpt = " ".join(source.excerpt.split())[:160]
        print(f"  [{source.number}] {source.title} — {place}\n      {source.path}\n      « {excerpt}… »")


def _print_checks(answer) -> None:
    from rag.citations import INFERRED_MARK, INFERRED_NOTE

    attributed = [s for s in answer.sentences if s.inferred]
    if attributed:
        print(f"\n{INFERRED_MARK} {INFERRED_NOTE[0].upper()}{INFERRED_NOTE[1:]}")
        for sentence in attributed:
            print(f"  {sentence.text} [{', '.join(map(str, sentence.sources))}]{INFERRED_MARK}")
    for reason in dict.fromkeys(answer.withheld):
        print(f"\n⛔ {reason}")
    flagged = [s for s in answer.sentences if not s.supported]
    if flagged:
        print("\nÀ vérifier (non étayé par les extraits) :")
        for sentence in flagged:
            print(f"  ⚠ {sentence.text} — {sentence.doubt}")
    answered_by = f"{answer.backend} · {answer.model}" if answer.backend else "aucun LLM appelé"
    timing = f"extraits en {_seconds(answer.first_useful_s)} s, " if answer.first_useful_s is not None else ""
    if answer.first_token_s is not None:
        timing += f"premier mot en {_seconds(answer.first_token_s)} s, "
    print(f"\n({answered_by}, {timing}réponse complète en {_seconds(answer.total_s)} s)")


def _print_found(sources) -> None:
    """The extracts, before the answer: what each says about the question."""
    shown = [s for s in sources if s.highlights]
    if not shown:
        return
    print("Extraits trouvés (ce n'est pas encore la réponse) :")
    for source in shown:
        place = location(source.page, source.section)
        print(f"  [{source.number}] {source.title}" + (f" — {place}" if place else ""))
        for sentence in source.highlights[:2]:
            print(f"      « {' '.join(sentence.split())} »")
    print()


def _answer_in_terminal(answerer, question: str, history, args):
    """Streams one answer to the terminal: what is being done (on stderr), the extracts, the text, the checks."""
    from rag.chain import Answer, Found, Progress

    answer = None
    for event in answerer.stream(question, history, where=_where(args), reader=args.reader):
        if isinstance(event, Progress):
            print(f"… {event.stage} ({_seconds(event.elapsed_s)} s)", file=sys.stderr, flush=True)
        elif isinstance(event, Found):
            _print_found(event.sources)
        elif isinstance(event, Answer):
            answer = event
            print()
            _print_sources(event)
            _print_checks(event)
        else:
            print(event, end="", flush=True)
    return answer


def _llm(settings: Settings, args) -> int:
    """Serves until interrupted: `sourcier ask` and `chat` in other terminals find it ready (no start, no load)."""
    import signal
    import threading

    from rag.llm import embedded_server

    server = embedded_server(settings)
    print("Démarrage du modèle de langage intégré…", file=sys.stderr, flush=True)
    url = server.ensure_running()
    stop = threading.Event()
    # Ctrl-C, or a service manager's stop (SIGTERM); set explicitly: a process started in the background inherits
    # an ignored SIGINT.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"Modèle de langage intégré prêt sur {url} ; Ctrl-C pour l'arrêter.", flush=True)
    while not stop.wait(3600):
        pass
    server.stop()
    print("Modèle de langage intégré arrêté.", file=sys.stderr)
    return EXIT_OK


def _say_if_the_model_must_start(settings: Settings) -> None:
    from rag.llm import embedded_server, ollama_models
    from rag.llm_server import healthy
    from sourcier.settings import LLMBackendKind

    backend = settings.llm.backend
    embedded = backend is LLMBackendKind.EMBEDDED or (
        backend is LLMBackendKind.AUTO and ollama_models(settings.llm.ollama_host) is None
    )
    if embedded and not healthy(embedded_server(settings).base_url):
        print(
            "Le modèle de langage intégré démarre pour cette question (quelques secondes) ; pour le garder prêt "
            "entre les questions, lancez « sourcier llm » dans un autre terminal.",
            file=sys.stderr,
        )


def _ask(settings: Settings, args) -> int:
    from rag.chain import Answerer

    answerer = Answerer.from_settings(settings)
    _say_if_the_model_must_start(settings)
    if args.json:
        answer = answerer.ask(args.question, where=_where(args), reader=args.reader)
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return EXIT_OK
    _answer_in_terminal(answerer, args.question, (), args)
    return EXIT_OK


def _chat(settings: Settings, args) -> int:
    from rag.chain import Answerer

    answerer = Answerer.from_settings(settings)
    history: list[tuple[str, str]] = []
    _say_if_the_model_must_start(settings)
    print("Posez votre question (ligne vide ou Ctrl-D pour quitter).")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return EXIT_OK
        if not question:
            return EXIT_OK
        answer = _answer_in_terminal(answerer, question, history, args)
        if answer is not None:
            history.append((answer.question, answer.text))


def _eval(settings: Settings, args) -> int:
    from rag.chain import Answerer
    from rag.evaluate import evaluate, read_cases

    cases = read_cases(args.questions)
    answerer = Answerer.from_settings(settings)
    modes = ["bm25", "dense", "hybrid"] if args.mode == "all" else [args.mode]
    results = [evaluate(answerer, cases, with_llm=args.llm, mode=mode, llm_sample=args.sample) for mode in modes]
    columns = [k for k in results[0] if k not in ("backend", "answers")]
    print(" ".join(f"{c:>12}" for c in columns))
    for result in results:
        print(" ".join(f"{str(result[c]):>12}" for c in columns))
    if args.output:
        args.output.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return EXIT_OK


def _eval_prepare(settings: Settings, args) -> int:
    from evaluation.questions import PREPARERS

    if args.dataset == "quality":
        from evaluation.quality_set import prepare

        prepare(args.shared, args.out)
        print(f"Corpus : {args.out / 'corpus'}\nAnnotations : {args.out / 'labels.json'}")
        return EXIT_OK
    questions = PREPARERS[args.dataset](args.shared, args.out)
    print(f"Corpus : {args.out / 'corpus'}\nQuestions : {questions}")
    print(
        f"Indexez puis évaluez : SOURCIER_CORPUS_DIR={args.out / 'corpus'} "
        f"SOURCIER_STORE__PATH={args.out / 'vectorstore'} sourcier ingest && … sourcier eval {questions}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
