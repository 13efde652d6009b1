"""The moderators' console: the page, its socket, and the presses it sends to the API."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

from frontend.client import ApiUnavailable, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from frontend.formatting import quoted
from frontend.models import ENDED, LIVE, SCHEDULED, LiveState
from frontend.refusals import PRESS_REFUSALS, press_refusal
from frontend.registrations import registration_counts
from frontend.routes.common import is_htmx, open_event_socket, origin_allowed, page, serve_viewer
from frontend.routes.questions import moderation_column
from frontend.security import CSRF_FIELD, CSRF_HEADER, csrf_token, csrf_valid
from frontend.services import Services, check_slug, services_of
from frontend.sessions import ModeratorSession, SessionStoreUnavailable

router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]

ACTIONS = {
    "start": "Démarrer",
    "next": "Suivant",
    "previous": "Précédent",
    "goto": "Aller à",
    "reveal": "Révéler",
    "end": "Terminer",
}
# Close code for a console socket without a session: the page script sends the moderator to /login.
SESSION_EXPIRED = 4401


def _console_url(slug: str) -> str:
    return f"/events/{slug}/console"


def _login_url(slug: str, notice: str) -> str:
    return f"/login?next={quote(_console_url(slug), safe='/')}&notice={notice}"


@router.get("/console", response_class=HTMLResponse)
async def moderator_home(request: Request, services: ServicesDep) -> Response:
    """The events a moderator can run, each with its console: where login leads."""
    moderator = await services.moderator(request)
    if moderator is None:
        return RedirectResponse("/login?next=/console&notice=required", status_code=303)
    events = await services.summaries()
    running = [e for e in events if e.status == LIVE]
    coming = [e for e in events if e.status == SCHEDULED]
    ended = [e for e in events if e.status == ENDED]
    groups = [(title, group) for title, group in (("En direct", running), ("À venir", coming),
              ("Terminés", ended)) if group]  # fmt: skip
    context = {"groups": groups, "username": moderator.username}
    return page(request, "moderator.html", context, cache="no-store")


@router.get("/events/{slug}/console", response_class=HTMLResponse)
async def console_page(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    moderator = await services.moderator(request)
    if moderator is None:
        return RedirectResponse(_login_url(slug, "required"), status_code=303)
    view = await services.view(slug)
    try:
        hidden = await services.api.get_hidden(slug, token=moderator.api_token)
    except (ApiUnavailable, Unauthorized, Forbidden, NotFound):
        hidden = {}  # the console still drives the show; the secrets panel says it could not read them
    context = {
        "view": view,
        "hidden": hidden,
        "username": moderator.username,
        "csrf_token": csrf_token(services.settings.secret_key, moderator.id),
        "server_now": services.clock.now(),
        "registration_counts": await registration_counts(services.api, view.event, moderator.api_token),
        "moderation_column": await moderation_column(services, view.event, moderator.api_token),
    }
    return page(request, "console.html", context, cache="no-store")


@router.websocket("/events/{slug}/console/ws")
async def console_socket(websocket: WebSocket, slug: str) -> None:
    services = services_of(websocket)
    try:
        moderator = await services.moderator(websocket)
    except SessionStoreUnavailable:
        # 1013 "try again later": htmx retries it by itself, and the store is probably back soon.
        await websocket.close(code=1013)
        return
    if moderator is None:
        if origin_allowed(websocket, services):
            await websocket.accept()
            await websocket.close(code=SESSION_EXPIRED)
        else:
            await websocket.close(code=1008)
        return
    if await open_event_socket(websocket, services, slug):
        watcher = asyncio.create_task(_close_when_revoked(websocket, services, moderator))
        # This console's bearer may read the questions queue and the registration counts for every
        # console of this process (frontend.moderators).
        hub = services.hubs.acquire(slug)
        handle = hub.bearers.add(moderator.api_token)
        try:
            await serve_viewer(websocket, services, slug, "console")
        finally:
            watcher.cancel()
            hub.bearers.remove(handle)
            services.hubs.release(slug)


async def _close_when_revoked(websocket: WebSocket, services: Services, moderator: ModeratorSession) -> None:
    """Close an open console within seconds of its token's end (`regie user revoke`, expiry).

    The console's socket only receives; without this, a revoked moderator would keep watching
    (and the page would learn of it only at the next press).
    """
    while True:
        await asyncio.sleep(services.settings.revocation_check_seconds)
        if not await services.api.token_alive(moderator.api_token):
            await services.sessions.delete(moderator.id)
            with contextlib.suppress(RuntimeError):  # the browser left meanwhile
                await websocket.close(code=SESSION_EXPIRED)
            return


@dataclass(frozen=True, slots=True)
class Press:
    action: str
    expected_version: int
    target: str | None

    @property
    def label(self) -> str:
        return ACTIONS[self.action]


@router.post("/events/{slug}/console/control", response_class=HTMLResponse)
async def control(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    moderator = await services.moderator(request)
    if moderator is None:
        return _session_expired(request, slug)
    form = await request.form()
    token = request.headers.get(CSRF_HEADER) or _str(form.get(CSRF_FIELD))
    if not origin_allowed(request, services) or not csrf_valid(
        services.settings.secret_key, moderator.id, token
    ):
        return _flash(
            services,
            "Cette page a expiré : rechargez-la avant d'agir (aucune commande n'a été envoyée).",
            403,
        )
    version = _str(form.get("expected_version"))
    if version is not None and not _VERSION.fullmatch(version):
        return _flash(
            services,
            "Numéro de version invalide (champ expected_version) : rechargez la page "
            "(aucune commande n'a été envoyée).",
            422,
        )
    press = _parse_press(_str(form.get("action")), version, _str(form.get("target")))
    if press is None:
        return _flash(
            services, "Commande incomprise : rechargez la page (aucune commande n'a été envoyée).", 400
        )
    return await _send_press(request, services, moderator, slug, press)


async def _send_press(
    request: Request, services: Services, moderator: ModeratorSession, slug: str, press: Press
) -> Response:
    try:
        live = await services.api.control(
            slug,
            token=moderator.api_token,
            action=press.action,
            expected_version=press.expected_version,
            target=press.target,
        )
    except Conflict as conflict:
        current = conflict.live or await _live_or_none(services, slug)
        if current is None:
            return _flash(services, f"« {press.label} » n'a pas pu être appliqué. Rechargez la page.", 409)
        if conflict.code == "version_conflict" or current.version != press.expected_version:
            message = (
                f"Un autre modérateur a agi avant vous : le direct est passé à la version {current.version}. "
                f"Votre commande « {press.label} » n'a pas été appliquée ; l'état à jour est affiché, "
                "vérifiez-le avant de recommencer."
            )
        else:
            message = f"« {press.label} » n'est pas possible maintenant : {press_refusal(conflict.code)}"
        return await _state_answer(services, slug, current, message, "warning", 409)
    except Unauthorized:
        await services.sessions.delete(moderator.id)
        return _session_expired(request, slug)
    except Forbidden:
        return _flash(services, "Votre compte n'a pas le droit de piloter ce direct.", 403, "error")
    except NotFound as missing:
        if missing.code == "unknown_item":
            return _flash(services, f"« {press.label} » : {press_refusal(missing.code)}", 404, "error")
        return _flash(services, "Ce direct n'existe plus : rechargez la page.", 404, "error")
    except Invalid as invalid:
        if invalid.code in PRESS_REFUSALS:
            message = f"« {press.label} » n'est pas possible : {press_refusal(invalid.code)}"
            return _flash(services, message, 422)
        return _flash(services, "Commande refusée par la régie : rechargez la page.", 422, "error")
    except ApiUnavailable:
        return _flash(
            services,
            f"La régie ne répond pas : « {press.label} » n'a peut-être pas été appliqué. "
            "Attendez que l'état se mette à jour avant de recommencer.",
            503,
            "error",
        )
    return await _state_answer(services, slug, live, _done(press, live), "success", 200)


async def _state_answer(
    services: Services, slug: str, live: LiveState, message: str, level: str, status: int
) -> Response:
    """The flash, then the console's fragments for `live`: the very bytes its viewers receive."""
    # The event's hub, which the console's own socket normally holds open already: it renders
    # `live` with the programme the backend pushed, so the answer waits for no read.
    hub = services.hubs.acquire(slug)
    try:
        fragments = (await hub.advance(live)).messages.get("console", "")
    finally:
        services.hubs.release(slug)
    body = services.renderer.flash(message, level=level) + fragments
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _live_or_none(services: Services, slug: str) -> LiveState | None:
    try:
        return await services.api.get_live(slug)
    except (ApiUnavailable, NotFound):
        return None


def _done(press: Press, live: LiveState) -> str:
    title = quoted(live.item.title) if live.item is not None else "—"
    if press.action == "start":
        return f"Le direct a commencé : {title} est à l'antenne (version {live.version})."
    if press.action == "end" or live.status == ENDED:
        return f"Le direct est terminé (version {live.version})."
    if press.action == "reveal":
        return f"Invité mystère révélé au public (version {live.version})."
    return f"À l'antenne : {title} (version {live.version})."


# ASCII digits only, and few of them: `str.isdigit` accepts « ² », which `int` then refuses, and
# 5,000 digits are more than `int` converts.
_VERSION = re.compile(r"[0-9]{1,15}")


def _parse_press(action: str | None, version: str | None, target: str | None) -> Press | None:
    if action not in ACTIONS or version is None or not _VERSION.fullmatch(version):
        return None
    # Whether the action needs a target is the show's rule: the API says so (`target_required`).
    target = (target or "").strip() or None
    return Press(action=action, expected_version=int(version), target=target)


def _flash(services: Services, message: str, status: int, level: str = "warning") -> HTMLResponse:
    return HTMLResponse(
        services.renderer.flash(message, level=level),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _session_expired(request: Request, slug: str) -> Response:
    url = _login_url(slug, "expired")
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": url, "Cache-Control": "no-store"})
    return RedirectResponse(url, status_code=303)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
