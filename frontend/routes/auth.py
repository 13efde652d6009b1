"""Moderators' login and logout."""

from __future__ import annotations

import contextlib
import math
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from frontend.client import ApiError, ApiUnavailable, Forbidden, Invalid, Unauthorized
from frontend.relay import relay_headers
from frontend.routes.common import origin_allowed, page
from frontend.security import CSRF_FIELD, csrf_token, csrf_valid, safe_next
from frontend.services import Services, services_of
from frontend.sessions import new_session_id

# Where a moderator lands after logging in without a page to go back to: the events they run.
LANDING = "/console"
router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]

NOTICES = {
    "logout": "Vous êtes déconnecté.",
    "expired": "Votre session a expiré : reconnectez-vous pour reprendre la main.",
    "required": "Connectez-vous pour ouvrir la console de régie.",
}
NO_STORE = "no-store"
# A user name (150), a password (1,024), the CSRF token, `next`: encoded, well under 8 KB.
MAX_LOGIN_BODY = 8 * 1024


def _login_page(
    request: Request,
    services: Services,
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "csrf_token": csrf_token(services.settings.secret_key, request.state.session_id),
        "next_url": next_url,
        "username": username,
        "error": error,
        "notice": notice,
    }
    return page(request, "login.html", context, status=status, cache=NO_STORE)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, services: ServicesDep) -> Response:
    next_url = safe_next(request.query_params.get("next"), default=LANDING)
    if await services.moderator(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return _login_page(request, services, next_url=next_url, notice=notice)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, services: ServicesDep) -> Response:
    declared = request.headers.get("content-length", "")
    if not declared.isascii() or not declared.isdigit() or int(declared) > MAX_LOGIN_BODY:
        # Refused unread: a login form is a few hundred bytes, and parsing costs before any throttle.
        return _login_page(
            request,
            services,
            next_url="/",
            error="Le formulaire envoyé est trop long : saisissez à nouveau vos identifiants.",
            status=413,
        )
    form = await request.form()
    username = str(form.get("username", "")).strip()[:150]
    password = str(form.get("password", ""))[:1024]
    next_url = safe_next(str(form.get("next", "")), default=LANDING)

    def show(error: str, status: int) -> HTMLResponse:
        return _login_page(
            request, services, next_url=next_url, username=username, error=error, status=status
        )

    if not origin_allowed(request, services) or not csrf_valid(
        services.settings.secret_key, request.state.session_id, _str(form.get(CSRF_FIELD))
    ):
        return show("Le formulaire a expiré. Saisissez à nouveau vos identifiants.", 403)
    if not username or not password:
        return show("Saisissez votre identifiant et votre mot de passe.", 400)

    address = request.client.host if request.client else "inconnue"
    wait = await services.throttle.retry_after(address, username)
    if wait is not None:
        minutes = max(1, math.ceil(wait / 60))
        response = show(
            f"Trop de tentatives de connexion. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}.",
            429,
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    try:
        token = await services.api.login(
            username, password, relay=relay_headers(services.settings.secret_key, address)
        )
    except (Unauthorized, Forbidden, Invalid):
        await services.throttle.failed(address, username)
        return show("Identifiant ou mot de passe incorrect.", 401)
    except ApiUnavailable:
        return show("Le serveur de la régie ne répond pas. Réessayez dans un instant.", 503)

    await services.throttle.succeeded(address, username)
    # A fresh session id at login: an id planted in the browser before (session fixation) is worthless.
    await services.sessions.delete(request.state.session_id)
    session = await services.sessions.create(username, token)
    request.state.new_session_id = session.id
    return RedirectResponse(next_url, status_code=303, headers={"Cache-Control": NO_STORE})


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    if origin_allowed(request, services) and csrf_valid(
        services.settings.secret_key, request.state.session_id, _str(form.get(CSRF_FIELD))
    ):
        moderator = await services.sessions.get(request.state.session_id)
        await services.sessions.delete(request.state.session_id)
        if moderator is not None:
            # The API token ends with the session: a copy of it (a proxy's log, a stolen session
            # record) opens nothing after logout.
            # Whatever the backend answers, this browser is logged out.
            with contextlib.suppress(ApiError):
                await services.api.revoke(moderator.api_token)
        request.state.new_session_id = new_session_id()
        return RedirectResponse("/login?notice=logout", status_code=303)
    # A forged or stale logout changes nothing; the moderator is sent back to where they were.
    return RedirectResponse("/", status_code=303)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
