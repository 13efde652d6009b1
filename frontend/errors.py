"""Friendly French error pages: no traceback, no raw API message ever reaches a person."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from frontend.client import ApiError, ApiUnavailable, NotFound
from frontend.services import UnknownEvent, services_of
from frontend.sessions import SessionStoreUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    title: str
    message: str
    retry_seconds: int | None = None


NOT_FOUND = ErrorPage(
    404,
    "Page introuvable",
    "Cette page n'existe pas, ou l'événement a changé d'adresse. "
    "Retrouvez tous les événements sur l'accueil.",
)
EVENT_NOT_FOUND = ErrorPage(
    404,
    "Événement introuvable",
    "Aucun événement ne porte cette adresse. Il a peut-être été renommé : retrouvez-le parmi les événements.",
)
UNAVAILABLE = ErrorPage(
    503,
    "La régie est momentanément injoignable",
    "Nous n'arrivons pas à joindre le serveur du direct. "
    "Il redémarre sans doute : réessayez dans un instant.",
    retry_seconds=10,
)
BAD_REQUEST = ErrorPage(400, "Demande incomprise", "Cette demande est incomplète ou mal formée.")
TOO_LARGE = ErrorPage(
    413,
    "Formulaire trop long",
    "Ce que vous avez envoyé dépasse ce que ce formulaire accepte : rien n'a été enregistré. "
    "Raccourcissez votre texte, puis envoyez-le de nouveau.",
)
METHOD = ErrorPage(405, "Action impossible", "Cette adresse ne permet pas cette action.")
INTERNAL = ErrorPage(
    500,
    "Un incident est survenu",
    "Quelque chose s'est mal passé de notre côté. "
    "L'équipe technique en est informée ; réessayez dans un instant.",
)


def error_response(request: Request, page: ErrorPage) -> Response:
    headers = {"Cache-Control": "no-store"}
    if page.retry_seconds:
        headers["Retry-After"] = str(page.retry_seconds)
    services = services_of(request)
    if request.headers.get("hx-request") == "true":
        # An htmx request swaps fragments, not pages: answer with the console's message area.
        body = services.renderer.flash(f"{page.title}. {page.message}", level="error")
        return HTMLResponse(body, status_code=page.status, headers=headers)
    html = services.renderer.page(
        "error.html",
        {
            "title": page.title,
            "message": page.message,
            "retry_seconds": page.retry_seconds,
            "back_url": "/",
            "back_label": "Retour aux événements",
        },
    )
    return HTMLResponse(html, status_code=page.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return error_response(request, NOT_FOUND)
        if status == 405:
            return error_response(request, METHOD)
        if status == 413:
            return error_response(request, TOO_LARGE)
        if status < 500:
            return error_response(request, BAD_REQUEST)
        return error_response(request, INTERNAL)

    async def unknown_event(request: Request, exc: Exception) -> Response:
        return error_response(request, EVENT_NOT_FOUND)

    async def api_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, NotFound):
            return error_response(request, EVENT_NOT_FOUND)
        if isinstance(exc, ApiUnavailable):
            logger.warning("backend unavailable for %s: %s", request.url.path, exc)
            return error_response(request, UNAVAILABLE)
        logger.error("unexpected API answer for %s: %s", request.url.path, exc)
        return error_response(request, INTERNAL)

    async def store_down(request: Request, exc: Exception) -> Response:
        logger.warning("session store unavailable for %s: %s", request.url.path, exc)
        return error_response(request, UNAVAILABLE)

    async def invalid(request: Request, exc: Exception) -> Response:
        return error_response(request, BAD_REQUEST)

    async def crash(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s", request.url.path, exc_info=exc)
        try:
            return error_response(request, INTERNAL)
        except Exception:  # the renderer itself failed: still no traceback for the user
            return HTMLResponse(
                "<!doctype html><html lang=fr><title>Incident</title>"
                "<p>Un incident est survenu. Réessayez dans un instant.</p></html>",
                status_code=500,
            )

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(UnknownEvent, unknown_event)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(SessionStoreUnavailable, store_down)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crash)
