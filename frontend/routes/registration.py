"""Registration pages: the form on each event page, its confirmation, and the personal page.

Everything goes through the public API. The personal page's address carries the registration's
token, so its answers say `Cache-Control: no-store` and `Referrer-Policy: same-origin` (the token
never goes to another site), and the forms it posts are checked for origin only: a forged request
cannot know the token. Refusals are shown in French from the API's `code`, never from its English
sentence.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from frontend import formatting
from frontend.client import ApiUnavailable
from frontend.models import Event, Item
from frontend.refusals import field_errors, refusal_code
from frontend.routes.common import moderator_download, origin_allowed, page
from frontend.services import Services, check_slug, services_of

router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]

PRIVATE = "no-store"
CATEGORIES = (
    ("elu", "Élu ou élue"),
    ("entreprise", "Entreprise"),
    ("association", "Association"),
    ("institution", "Institution"),
    ("autre", "Autre"),
)
FIELD_ERRORS = {
    "name": "Indiquez votre nom (200 caractères au plus).",
    "email": "Indiquez une adresse e-mail valide, par exemple prenom.nom@exemple.fr.",
    "organisation": "Le nom de l'organisation ne peut dépasser 200 caractères.",
    "category": "Choisissez ce qui vous décrit le mieux.",
    "consent": "Cochez la case pour accepter que ces informations soient conservées.",
}
REFUSALS = {
    "registration_closed": "Les inscriptions sont closes : le direct est terminé.",
    "rate_limited": "Trop d'inscriptions depuis votre connexion. Réessayez dans quelques minutes.",
    "signup_closed": "L'inscription à ces ateliers n'est pas ouverte en ce moment.",
    "unknown_session": "Cet atelier n'existe plus.",
    "unknown_registration": "Ce lien ne correspond à aucune inscription : elle a peut-être été annulée.",
    "unknown_event": "Cet événement n'existe pas.",
}
UNAVAILABLE = "Le serveur ne répond pas. Réessayez dans un instant."


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    # Not `no-referrer`: under it a browser sends `Origin: null` with the page's own form posts
    # (Fetch, « append a request Origin header »), and every one of them is refused as forged.
    # `same-origin` still keeps the token in the address away from any other site.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def form_context(event: Event, services: Services, **extra: Any) -> dict[str, Any]:
    """What `_registration_form.html` needs, for the event page and the registration page."""
    context: dict[str, Any] = {
        "categories": CATEGORIES,
        "retention_days": services.settings.retention_days,
        "form": {"name": "", "email": "", "organisation": "", "category": "", "consent": False},
        "errors": {},
        "form_error": None,
    }
    context.update(extra)
    return context


@router.get("/events/{slug}/inscription", response_class=HTMLResponse)
async def registration_page(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    event = await services.api.get_event(slug)
    return page(request, "registration.html", {"event": event, **form_context(event, services)})


@router.post("/events/{slug}/inscription", response_class=HTMLResponse)
async def register(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    event = await services.api.get_event(slug)
    form = await request.form()
    values = {name: str(form.get(name, ""))[:1000] for name in ("name", "email", "organisation", "category")}
    consent = form.get("consent") == "oui"
    shown = {**values, "consent": consent}

    def again(status: int, *, errors: dict[str, str] | None = None, error: str | None = None) -> Response:
        context = form_context(event, services, form=shown, errors=errors or {}, form_error=error)
        return page(request, "registration.html", {"event": event, **context}, status=status, cache=PRIVATE)

    if not origin_allowed(request, services):
        return again(403, error="Le formulaire a expiré : envoyez-le de nouveau.")
    body: dict[str, Any] = {
        "name": values["name"],
        "email": values["email"],
        "organisation": values["organisation"] or None,
        "category": values["category"],
        "consent": consent,
        "website": str(form.get("website", ""))[:200],
    }
    address = request.client.host if request.client else ""
    try:
        answer = await services.api.relay(
            "POST",
            f"/api/v1/events/{slug}/registrations",
            json=body,
            # The visitor's address, for the API's per-address limit (believed when this frontend
            # is one of its REGIE_TRUSTED_PROXIES).
            headers={"X-Forwarded-For": address} if address else {},
        )
    except ApiUnavailable:
        return again(503, error=UNAVAILABLE)
    if answer.status_code in (201, 202):
        # The same page whether the address was new or not: it tells nobody who is registered.
        return RedirectResponse(f"/events/{slug}/inscription/merci", status_code=303)
    if answer.status_code == 422:
        return again(422, errors=field_errors(answer, FIELD_ERRORS, default="name"))
    return again(answer.status_code, error=REFUSALS.get(refusal_code(answer), UNAVAILABLE))


@router.get("/events/{slug}/inscription/merci", response_class=HTMLResponse)
async def thanks(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    event = await services.api.get_event(slug)
    return page(request, "registration_thanks.html", {"event": event})


# --- The personal page ----------------------------------------------------------------------


def _window(item: Item, zone: Any, now: datetime) -> tuple[bool, str | None]:
    opens, closes = item.signup_opens_at, item.signup_closes_at
    if opens and now < opens:
        return False, f"Inscription aux ateliers à partir du {formatting.date_time(opens, zone)}."
    if closes and now >= closes:
        return False, "L'inscription à ces ateliers est close."
    if closes:
        return True, f"Inscription aux ateliers jusqu'au {formatting.date_time(closes, zone)}."
    return True, None


async def _manage(
    request: Request, services: Services, token: str, *, notice: str | None = None, error: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    answer = await services.api.relay("GET", f"/api/v1/registrations/{token}")
    if answer.status_code != 200:
        return _unknown(request)
    registration = answer.json()
    event = await services.api.get_event(registration["event"])
    now = datetime.now(UTC)
    mine = {s["block_id"]: s for s in registration["signups"]}
    blocks = []
    for item in event.items:
        if not item.sessions:
            continue
        is_open, window = _window(item, event.zone, now)
        blocks.append({"item": item, "open": is_open and event.status != "ended", "window": window,
                       "mine": mine.get(item.id)})  # fmt: skip
    context = {
        "event": event,
        "registration": registration,
        "token": token,
        "blocks": blocks,
        "rooms": {room.id: room.name for room in event.rooms},
        "categories": CATEGORIES,
        "retention_days": services.settings.retention_days,
        "notice": notice,
        "error": error,
    }
    return _private(page(request, "registration_manage.html", context, status=status, cache=PRIVATE))


def _token_ok(token: str) -> bool:
    return 16 <= len(token) <= 128 and all(c.isalnum() or c in "-_" for c in token)


def _forged(request: Request, token: str) -> Response:
    """A post from another site (or an expired page): say so, and lead back to the page."""
    context = {
        "title": "Formulaire refusé",
        "message": "Ce formulaire ne vient pas de votre page d'inscription. Rouvrez-la et recommencez.",
        "retry_seconds": None,
        "back_url": f"/inscription/{token}" if _token_ok(token) else "/",
        "back_label": "Mon inscription" if _token_ok(token) else "Tous les événements",
    }
    return _private(page(request, "error.html", context, status=403, cache=PRIVATE))


def _refused(request: Request, token: str, services: Services) -> Response | None:
    """Why a post to the personal page cannot go on, or None when it can."""
    if not _token_ok(token):
        return _unknown(request)
    if not origin_allowed(request, services):
        return _forged(request, token)
    return None


def _unknown(request: Request) -> Response:
    context = {
        "title": "Lien inconnu",
        "message": REFUSALS["unknown_registration"],
        "retry_seconds": None,
        "back_url": "/",
        "back_label": "Tous les événements",
    }
    return _private(page(request, "error.html", context, status=404, cache=PRIVATE))


@router.get("/inscription/{token}", response_class=HTMLResponse)
async def manage(request: Request, token: str, services: ServicesDep) -> Response:
    if not _token_ok(token):
        return _unknown(request)
    notice = {"enregistre": "Vos informations sont enregistrées.", "atelier": "Votre choix est enregistré.",
              "quitte": "Vous avez quitté l'atelier."}.get(request.query_params.get("ok", ""))  # fmt: skip
    return await _manage(request, services, token, notice=notice)


async def _after(request: Request, services: Services, token: str, answer: Any, ok: str) -> Response:
    if answer.status_code in (200, 201, 204):
        return _private(RedirectResponse(f"/inscription/{token}?ok={ok}", status_code=303))
    message = REFUSALS.get(refusal_code(answer), "Cette modification n'a pas pu être enregistrée.")
    return await _manage(request, services, token, error=message, status=answer.status_code)


@router.post("/inscription/{token}", response_class=HTMLResponse)
async def change(request: Request, token: str, services: ServicesDep) -> Response:
    if (refused := _refused(request, token, services)) is not None:
        return refused
    form = await request.form()
    body = {k: str(form.get(k, ""))[:1000] for k in ("name", "organisation", "category") if form.get(k)}
    answer = await services.api.relay("PATCH", f"/api/v1/registrations/{token}", json=body)
    return await _after(request, services, token, answer, "enregistre")


@router.post("/inscription/{token}/ateliers", response_class=HTMLResponse)
async def sign_up(request: Request, token: str, services: ServicesDep) -> Response:
    if (refused := _refused(request, token, services)) is not None:
        return refused
    form = await request.form()
    session_id = str(form.get("session_id", ""))[:80]
    answer = await services.api.relay(
        "POST", f"/api/v1/registrations/{token}/signups", json={"session_id": session_id}
    )
    return await _after(request, services, token, answer, "atelier")


@router.post("/inscription/{token}/ateliers/{session_id}/quitter", response_class=HTMLResponse)
async def leave(request: Request, token: str, session_id: str, services: ServicesDep) -> Response:
    if (refused := _refused(request, token, services)) is not None:
        return refused
    answer = await services.api.relay("DELETE", f"/api/v1/registrations/{token}/signups/{session_id[:80]}")
    return await _after(request, services, token, answer, "quitte")


@router.get("/inscription/{token}/annulation", response_class=HTMLResponse)
async def cancel_form(request: Request, token: str, services: ServicesDep) -> Response:
    # A GET never erases: mail scanners open links before people do.
    if not _token_ok(token):
        return _unknown(request)
    return _private(page(request, "registration_cancel.html", {"token": token, "done": False}, cache=PRIVATE))


@router.post("/inscription/{token}/annulation", response_class=HTMLResponse)
async def cancel(request: Request, token: str, services: ServicesDep) -> Response:
    if (refused := _refused(request, token, services)) is not None:
        return refused
    answer = await services.api.relay("DELETE", f"/api/v1/registrations/{token}")
    if answer.status_code not in (204, 404):
        return await _manage(request, services, token, error="L'annulation n'a pas pu être enregistrée.")
    return _private(page(request, "registration_cancel.html", {"token": token, "done": True}, cache=PRIVATE))


# --- The console's counts and downloads ------------------------------------------------------


@router.get("/events/{slug}/console/registrations.{extension}")
async def console_download(request: Request, slug: str, extension: str, services: ServicesDep) -> Response:
    check_slug(slug)
    if extension not in ("csv", "xlsx"):
        return Response(status_code=404)
    return await moderator_download(
        request,
        services,
        api_path=f"/api/v1/events/{slug}/registrations.{extension}",
        filename=f"{slug}-registrations.{extension}",
        back=f"/events/{slug}/console",
    )


class _HideTokens(logging.Filter):
    """Access log lines show `/inscription/…`: a personal link's token is a key to personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], _TOKEN_IN_PATH.sub(r"\1…", record.args[2]), *record.args[3:])
        return True


_TOKEN_IN_PATH = re.compile(r"(/inscription/)[A-Za-z0-9_-]{16,}")


def hide_tokens_in_access_logs() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _HideTokens) for f in access.filters):
        access.addFilter(_HideTokens())
