"""The `sourcier` commands that concern people and rights: who the command acts as (`--as`), local accounts
(`users`), service accounts of the API (`api-keys`), the access policy (`access`), the audit trail (`audit`), and
starting the interfaces (`app`, `serve`).

The CLI runs on the server: whoever runs it can already read the store's files. `--as` says whose rights apply to
what it reads and who is recorded in the audit trail; in the « local » identity mode it asks that account's
password (or reads it from SOURCIER_PASSWORD), so that rights are not borrowed by typing a name.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from sourcier.access import AccessPolicy, Reader
from sourcier.accounts import Accounts
from sourcier.api_keys import ApiKeys
from sourcier.audit import AuditKind, AuditLog, to_csv
from sourcier.errors import AccessDeniedError, ConfigurationError, InputError
from sourcier.french import plural
from sourcier.settings import IdentityMode, Settings

ADMIN_COMMANDS = {"ingest", "report", "mark", "status", "users", "api-keys", "access", "audit", "eval", "quality-eval"}
# Read no document of the index: installation, preparation, and FALC drafts of files given by path; the interfaces
# identify their own users.
UNATTRIBUTED = {"models", "eval-prepare", "app", "serve", "falc", "llm"}
DEMO_CLI = Reader.system("démonstration (ligne de commande)")


def add_parsers(commands) -> None:
    users = commands.add_parser("users", help="comptes locaux (mode d'identification « local »)")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="créer un compte (mot de passe demandé)")
    add.add_argument("name")
    add.add_argument("--groups", default="", help="groupes, séparés par des virgules (voir la politique d'accès)")
    add.add_argument("--password-stdin", action="store_true", help="lire le mot de passe sur l'entrée standard")
    remove = actions.add_parser("remove", help="supprimer un compte")
    remove.add_argument("name")
    actions.add_parser("list", help="lister les comptes")
    passwd = actions.add_parser("passwd", help="changer un mot de passe")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")

    keys = commands.add_parser("api-keys", help="clés d'API (comptes de service de l'API HTTP)")
    key_actions = keys.add_subparsers(dest="action", required=True)
    add_key = key_actions.add_parser("add", help="créer une clé (affichée une seule fois)")
    add_key.add_argument("name", help="à quoi sert la clé (ex. : intranet)")
    add_key.add_argument("--groups", required=True, help="ses groupes, séparés par des virgules (ses droits)")
    remove_key = key_actions.add_parser("remove", help="révoquer une clé")
    remove_key.add_argument("name")
    key_actions.add_parser("list", help="lister les clés")

    access = commands.add_parser("access", help="droits d'accès aux documents")
    access_actions = access.add_subparsers(dest="action", required=True)
    access_actions.add_parser("apply", help="appliquer la politique d'accès à l'index (sans réindexer)")
    access_actions.add_parser("show", help="qui peut lire chaque service")

    audit = commands.add_parser("audit", help="journal d'audit (pour le DPO)")
    audit.add_argument("--user", help="filtrer par utilisateur (partie du nom)")
    audit.add_argument("--kind", action="append", choices=[k.value for k in AuditKind], default=[])
    audit.add_argument("--since", help="date de début (AAAA-MM-JJ)")
    audit.add_argument("--csv", type=Path, help="écrire un export CSV")

    app = commands.add_parser("app", help="démarrer l'application web")
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=int, default=8501)

    serve = commands.add_parser("serve", help="démarrer l'API HTTP (documentation sur /docs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)


def acting_reader(settings: Settings, args, command: str) -> Reader:
    """Whose rights the command runs with; administrative commands need an admin."""
    name = getattr(args, "as_user", None)
    mode = settings.identity.mode
    if command in UNATTRIBUTED:
        return DEMO_CLI
    if getattr(args, "settings_stdin", False):
        return _background_starter(settings, args, command)
    if name is None:
        if mode is IdentityMode.DEMO:
            return DEMO_CLI
        if command == "users" and not Accounts.of(settings.store).list():
            return Reader.system("installation")  # the first admin is created before any account exists
        raise AccessDeniedError(
            "Précisez au nom de qui agit la commande : --as NOM (l'identification n'est pas en mode démonstration)."
        )
    policy = AccessPolicy.load(settings.access.policy)
    if mode is IdentityMode.LOCAL:
        password = os.environ.get("SOURCIER_PASSWORD") or getpass.getpass(f"Mot de passe de {name} : ")
        account = Accounts.of(settings.store).verify(name, password)
        reader = policy.reader(account.name, account.groups)
    else:
        reader = policy.reader(name)
    if command in ADMIN_COMMANDS and not reader.is_admin:
        raise AccessDeniedError(f"La commande « {command} » est réservée aux administrateurs ; {name} n'en est pas un.")
    return reader


def _background_starter(settings: Settings, args, command: str) -> Reader:
    """An ingestion the app or the API started: it runs with the rights of the administrator who started it, as
    the access policy gives them now — never as Sourcier itself, and for no other command."""
    started_by = getattr(args, "started_by", None)
    if command != "ingest" or not isinstance(started_by, dict) or not started_by.get("name"):
        raise AccessDeniedError(
            "--settings-stdin ne sert qu'aux ingestions lancées par l'application ou l'API, au nom d'un "
            "administrateur ; utilisez --as NOM."
        )
    if settings.identity.mode is IdentityMode.DEMO:
        return DEMO_CLI
    name, groups = str(started_by["name"]), started_by.get("groups") or ()
    if settings.identity.mode is IdentityMode.LOCAL:  # the account's groups, not what the payload says
        account = Accounts.of(settings.store).get(name)
        groups = account.groups if account else ()
    reader = AccessPolicy.load(settings.access.policy).reader(name, groups)
    if not reader.is_admin:
        raise AccessDeniedError(
            f"La commande « {command} » est réservée aux administrateurs ; {reader.name} n'en est pas un."
        )
    return reader


def _password(args, confirm: bool = True) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mot de passe (12 caractères au moins) : ")
    if confirm and getpass.getpass("Confirmez : ") != first:
        raise InputError("Les deux mots de passe diffèrent.")
    return first


def users(settings: Settings, args, reader: Reader) -> int:
    accounts = Accounts.of(settings.store)
    audit = AuditLog.for_settings(settings)
    if args.action == "list":
        listed = accounts.list()
        for account in listed:
            print(f"{account.name}\t{', '.join(account.groups) or '(aucun groupe)'}\tcréé le {account.created_at[:10]}")
        if not listed:
            print("Aucun compte. Créez le premier administrateur : sourcier users add NOM --groups <groupe admin>")
        return 0
    if args.action == "add":
        groups = [g for g in args.groups.split(",") if g.strip()]
        account = accounts.add(args.name, _password(args), groups)
        policy = AccessPolicy.load(settings.access.policy)
        role = policy.reader(account.name, account.groups).role
        print(f"Compte « {account.name} » créé ({role.label}).")
        if settings.identity.mode is not IdentityMode.LOCAL:
            print("Attention : l'identification n'est pas en mode « local » (réglage identity.mode) ; ce compte ne "
                  "servira qu'une fois ce mode choisi.")  # fmt: skip
    elif args.action == "remove":
        accounts.remove(args.name)
        print(f"Compte « {args.name} » supprimé.")
    elif args.action == "passwd":
        accounts.set_password(args.name, _password(args))
        print(f"Mot de passe de « {args.name} » changé.")
    audit.record(AuditKind.USERS, reader, action=args.action, account=args.name)
    return 0


def api_keys(settings: Settings, args, reader: Reader) -> int:
    keys = ApiKeys.of(settings.store)
    if args.action == "list":
        listed = keys.list()
        for key in listed:
            used = f"utilisée le {key.last_used_at[:10]}" if key.last_used_at else "jamais utilisée"
            print(f"{key.name}\t{', '.join(key.groups)}\tcréée le {key.created_at[:10]}, {used}")
        if not listed:
            print("Aucune clé d'API. Créez-en une : sourcier api-keys add NOM --groups GROUPES")
        return 0
    if args.action == "add":
        key, secret = keys.add(args.name, args.groups.split(","))
        role = AccessPolicy.load(settings.access.policy).reader(key.reader_name, key.groups).role
        print(f"Clé « {key.name} » créée ({role.label}). Conservez-la maintenant : elle ne sera plus affichée.")
        print(secret)
    else:
        keys.remove(args.name)
        print(f"Clé « {args.name} » révoquée.")
    AuditLog.for_settings(settings).record(AuditKind.API_KEYS, reader, action=args.action, key=args.name)
    return 0


def access(settings: Settings, args, reader: Reader) -> int:
    from ingest.live import read_live_documents
    from ingest.pipeline import apply_access_policy

    policy = AccessPolicy.load(settings.access.policy)
    if args.action == "show":
        if not (settings.access.policy and settings.access.policy.exists()):
            print("Aucune politique d'accès : seuls les administrateurs lisent les documents.")
        documents = read_live_documents(settings).documents
        services = sorted({path.split("/", 1)[0] for path in documents if "/" in path})
        for service in services:
            groups = policy.services.get(service)
            print(f"{service} : {', '.join(sorted(groups)) if groups else 'administrateurs seulement'}")
        for path, groups in sorted(policy.documents.items()):
            print(f"  document {path} : {', '.join(sorted(groups))}")
        return 0
    changed = apply_access_policy(settings, policy)
    AuditLog.for_settings(settings).record(AuditKind.POLICY, reader, chunks=changed.chunks, documents=changed.documents)
    print(f"Droits appliqués : {plural(changed.chunks, 'extrait mis', 'extraits mis')} à jour "
          f"({plural(changed.documents, 'document')}) sur {changed.total}, sans réindexation.")  # fmt: skip
    return 0


def audit(settings: Settings, args, reader: Reader) -> int:
    log = AuditLog.for_settings(settings)
    events = log.events([AuditKind(k) for k in args.kind] or None, user=args.user, since=args.since)
    if args.csv:
        args.csv.write_text(to_csv(events), encoding="utf-8")
        print(f"{plural(len(events), 'événement écrit', 'événements écrits')} dans {args.csv}.")
        return 0
    for event in events[:200]:
        print(f"{event.at}  {event.kind.label:<32} {event.user:<24} {event.detail}")
    if len(events) > 200:
        print(f"… {len(events) - 200} de plus : --csv FICHIER pour tout exporter.")
    return 0


def app(settings: Settings, args) -> int:
    from ui.identity import is_loopback

    if (
        settings.identity.mode is IdentityMode.DEMO
        and not is_loopback(args.host)
        and not settings.identity.allow_demo_on_network
    ):
        raise ConfigurationError(
            f"Refus d'écouter sur {args.host} : sans identification (mode démonstration), chacun lirait tous les "
            "documents. Choisissez un mode d'identification (identity.mode : oidc, proxy ou local), ou, pour un "
            "essai en connaissance de cause, identity.allow_demo_on_network = true."
        )
    command = [
        sys.executable, "-m", "streamlit", "run", str(Path(__file__).with_name("app.py")),
        "--server.headless", "true", "--server.address", args.host, "--server.port", str(args.port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    # The server takes this process's place: stopping `sourcier app` (a service manager's SIGTERM, a `kill`) stops
    # the server, where a child would have kept listening, orphaned.
    os.execv(sys.executable, command)


def serve(settings: Settings, args) -> int:
    import uvicorn

    from api.app import create_app

    # Every call needs a credential (there is no anonymous access): no demo-mode guard is needed here.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", server_header=False)
    return 0


HANDLERS = {"users": users, "api-keys": api_keys, "access": access, "audit": audit}
