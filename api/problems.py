"""Errors as RFC 9457 problem details (`application/problem+json`), in French, by who must act.

The status follows Sourcier's exception families: the caller's input (400), their identity (401), their rights (403),
a service that does not answer or is busy (503, with Retry-After). Anything else is a bug: logged with its traceback,
answered with a generic message that leaks nothing.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sourcier.errors import (
    AccessDeniedError,
    ConfigurationError,
    InputError,
    ServiceUnavailableError,
    SignInError,
    SourcierError,
)
from sourcier.french import plural

log = logging.getLogger("sourcier.api")
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://sourcier.invalid/problemes/"  # not dereferenceable: names the kind of problem

_TITLES = {
    400: "Requête invalide",
    401: "Identification requise",
    403: "Accès refusé",
    404: "Introuvable",
    405: "Méthode non permise",
    409: "Conflit",
    413: "Requête trop volumineuse",
    422: "Requête invalide",
    500: "Erreur interne",
    503: "Service indisponible",
}


class Busy(ServiceUnavailableError):
    """Every generation slot of this replica is taken: retry shortly (or on another replica)."""


class NotFound(InputError):
    pass


def body(status: int, detail: str, kind: str) -> dict:
    """The problem details object (RFC 9457)."""
    return {"type": TYPE_BASE + kind, "title": _TITLES.get(status, HTTPStatus(status).phrase), "status": status,
            "detail": detail}  # fmt: skip


def problem(status: int, detail: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(status, detail, kind), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def of_error(error: SourcierError) -> dict:
    """The problem details of `error`, for a stream whose status line is already sent."""
    status, kind = status_of(error)
    return body(status, str(error), kind)


def status_of(error: SourcierError) -> tuple[int, str]:
    if isinstance(error, SignInError):
        return 401, "identification"
    if isinstance(error, AccessDeniedError):
        return 403, "acces-refuse"
    if isinstance(error, NotFound):
        return 404, "introuvable"
    if isinstance(error, InputError):
        return 400, "requete-invalide"
    if isinstance(error, Busy):
        return 503, "serveur-occupe"
    if isinstance(error, ServiceUnavailableError):
        return 503, "service-indisponible"
    if isinstance(error, ConfigurationError):
        return 500, "configuration"
    return 500, "erreur-interne"


def from_error(error: SourcierError) -> JSONResponse:
    status, kind = status_of(error)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sourcier"'
    elif status == 503:
        headers["Retry-After"] = "5" if isinstance(error, Busy) else "30"
    if isinstance(error, ConfigurationError):
        log.error("Configuration error: %s", error)
    return problem(status, str(error), kind, headers)


async def sourcier_error(request: Request, error: SourcierError) -> JSONResponse:
    return from_error(error)


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("Unexpected error in the API", exc_info=error)
    detail = "Une erreur inattendue est survenue. Elle est consignée dans le journal du serveur."
    return problem(500, detail, "erreur-interne")


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    where = []
    for item in error.errors()[:5]:
        field = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        where.append(f"{field or 'corps'} : {_explain(item)}")
    return problem(422, "Requête invalide — " + " ; ".join(where) + ".", "requete-invalide")


def _explain(item: dict) -> str:
    kind = item.get("type", "")
    context = item.get("ctx") or {}
    if kind == "value_error":  # our own validators' messages, in French
        return str(context.get("error", item.get("msg", "valeur invalide")))
    if kind in {"string_too_short", "string_too_long", "too_short", "too_long"}:
        bound = context.get("min_length" if kind.endswith("short") else "max_length") or 0
        what = plural(int(bound), "caractère" if kind.startswith("string") else "élément")
        return f"au {'moins' if kind.endswith('short') else 'plus'} {what}"
    return {
        "missing": "champ obligatoire absent",
        "json_invalid": "JSON invalide",
        "extra_forbidden": "champ inconnu",
        "literal_error": f"valeur attendue : {context.get('expected')}",
        "enum": f"valeur attendue : {context.get('expected')}",
        "int_parsing": "nombre entier attendu",
        "bool_parsing": "booléen attendu",
        "greater_than_equal": f"au moins {context.get('ge')}",
        "less_than_equal": f"au plus {context.get('le')}",
    }.get(kind, "valeur invalide")


async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    detail = {404: "Cette adresse ne correspond à aucun service de l'API.", 405: "Méthode non permise ici."}.get(
        error.status_code, _TITLES.get(error.status_code, "Erreur.")
    )
    return problem(error.status_code, detail, "http", dict(error.headers or {}))
