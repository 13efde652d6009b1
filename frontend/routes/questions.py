"""Audience questions: asking and voting from the live page, moderating from the console.

Viewers' posts are relayed to the public API with the frontend's relay credential and the
browser's address (`frontend.relay`), so the API's per-address limit counts browsers, not this
process. Each browser that asks or votes gets a random voter id once, in an httponly cookie:
one vote per question per browser, and the per-viewer limit. Pages that only read set none.
Every form works without JavaScript (a redirect or a page of its own); with htmx, the same
routes answer with the fragment to swap. Refusals are shown in French from the API's `code`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from frontend.client import ApiUnavailable
from frontend.models import ENDED, Event, Question
from frontend.questions import (
    NAME_MAX,
    ORGANISATION_MAX,
    STATUS_LABELS,
    TEXT_MAX,
    VOTER_COOKIE,
    author_of,
    new_voter_id,
    parse_questions,
    plausible_voter,
    questions_path,
    render_console,
    shown,
)
from frontend.refusals import (
    ASK_REFUSALS,
    QUESTION_FIELD_ERRORS,
    field_errors,
    moderation_refusal,
    refusal_code,
)
from frontend.relay import relay_headers
from frontend.routes.common import is_htmx, moderator_download, origin_allowed, page
from frontend.security import CSRF_FIELD, CSRF_HEADER, csrf_valid
from frontend.services import Services, check_slug, services_of

logger = logging.getLogger(__name__)
router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]

MODERATION_ACTIONS = {
    "approve": "Approuver",
    "reject": "Rejeter",
    "answer": "Répondue",
    "on_air": "À l'antenne",
    "off_air": "Fin d'antenne",
}
MODERATION_DONE = {
    "approve": "Question approuvée : elle est publique.",
    "reject": "Question rejetée : elle n'est pas publique.",
    "answer": "Question marquée comme répondue.",
    "on_air": "Question à l'antenne : sur la page et l'habillage vidéo.",
    "off_air": "Question retirée de l'antenne.",
}
UNAVAILABLE = "Le serveur ne répond pas. Réessayez dans un instant."
_YEAR = 365 * 24 * 3600


def ask_context(event: Event, **changes: Any) -> dict[str, Any]:
    """What `_question_form.html` needs: an empty form, or what was typed and why it was refused."""
    ask: dict[str, Any] = {
        "form": {"text": "", "name": "", "organisation": ""},
        "errors": {},
        "error": None,
        "sent": False,
        "closed": event.status == ENDED,
        "text_max": TEXT_MAX,
        "name_max": NAME_MAX,
        "organisation_max": ORGANISATION_MAX,
    }
    ask.update(changes)
    return ask


async def public_questions(services: Services, slug: str) -> list[Question]:
    """The list a page starts with: the hub's (pushed) when it has one, else one read."""
    hub = services.hubs.get(slug)
    try:
        if hub is not None and hub.questions is not None:
            return await hub.questions.public_list()
        answer = await services.api.relay("GET", questions_path(slug))
    except ApiUnavailable:
        return []
    return parse_questions(answer.json()) if answer.status_code == 200 else []


async def answered_questions(services: Services, slug: str) -> list[Question]:
    """The replay page's list: the questions answered on stage, in the order they were."""
    answered = [q for q in await public_questions(services, slug) if q.status == "answered"]
    return sorted(answered, key=lambda q: (q.answered_at or q.created_at, q.id))


async def question_context(services: Services, event: Event, *, sent: bool = False) -> dict[str, Any]:
    """What `_questions.html` needs on the live page."""
    listed = await public_questions(services, event.slug)
    return {
        "slug": event.slug,
        "questions": shown(listed),
        "total": len(listed),
        "zone": event.zone,
        "status_labels": STATUS_LABELS,
        "ask": ask_context(event, sent=sent),
    }


def _voter(request: Request) -> tuple[str, bool]:
    """This browser's voter id, and whether it is new (then the answer sets the cookie)."""
    current = request.cookies.get(VOTER_COOKIE)
    if plausible_voter(current):
        return str(current), False
    return new_voter_id(), True


def _keep_voter(response: Response, request: Request, services: Services, voter: str, new: bool) -> Response:
    if new:
        response.set_cookie(
            VOTER_COOKIE,
            voter,
            max_age=_YEAR,
            path="/",
            httponly=True,
            samesite="lax",
            secure=services.settings.secure_cookies or request.url.scheme == "https",
        )
    return response


def _relay(request: Request, services: Services) -> dict[str, str]:
    return relay_headers(services.settings.secret_key, request.client.host if request.client else None)


@router.post("/events/{slug}/questions", response_class=HTMLResponse)
async def ask(request: Request, slug: str, services: ServicesDep) -> Response:
    check_slug(slug)
    event = await services.api.get_event(slug)
    form = await request.form()
    typed = {name: str(form.get(name, ""))[:2000] for name in ("text", "name", "organisation")}
    voter, new = _voter(request)

    def answer(status: int, **changes: Any) -> Response:
        context = {"event": event, "slug": slug, "ask": ask_context(event, **changes)}
        if is_htmx(request):
            html = services.renderer.env.get_template("_question_form.html").render(context)
            response: Response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        else:
            response = page(request, "question.html", context, status=status, cache="no-store")
        return _keep_voter(response, request, services, voter, new)

    if not origin_allowed(request, services):
        return answer(403, form=typed, error="Le formulaire a expiré : envoyez-le de nouveau.")
    if len(" ".join(typed["text"].split())) > TEXT_MAX:
        return answer(422, form=typed, errors={"text": QUESTION_FIELD_ERRORS["text"]})
    body = {
        "text": typed["text"],
        "author": author_of(typed["name"][:NAME_MAX], typed["organisation"][:ORGANISATION_MAX]),
        "viewer": voter,
    }
    try:
        upstream = await services.api.relay(
            "POST", questions_path(slug), json=body, headers=_relay(request, services)
        )
    except ApiUnavailable:
        return answer(503, form=typed, error=UNAVAILABLE)
    if upstream.status_code == 202:
        if is_htmx(request):
            return answer(200, sent=True)
        redirect = RedirectResponse(f"/events/{slug}?question=sent#questions", status_code=303)
        return _keep_voter(redirect, request, services, voter, new)
    if upstream.status_code == 422:
        return answer(422, form=typed, errors=field_errors(upstream, QUESTION_FIELD_ERRORS, default="text"))
    code = refusal_code(upstream)
    closed = code == "already_ended"
    return answer(upstream.status_code, form=typed, closed=closed, error=ASK_REFUSALS.get(code, UNAVAILABLE))


def _notice(message: str, status: int) -> HTMLResponse:
    html = (
        '<p id="questions-notice" class="questions-notice" role="status" hx-swap-oob="true">'
        f"{escape(message)}</p>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@router.post("/events/{slug}/questions/vote", response_class=HTMLResponse)
async def vote_in_list(request: Request, slug: str, services: ServicesDep) -> Response:
    """The list's one form: the button pressed names its question."""
    form = await request.form()
    return await vote(request, slug, str(form.get("question", ""))[:64] or "-", services)


@router.post("/events/{slug}/questions/{question_id}/vote", response_class=HTMLResponse)
async def vote(request: Request, slug: str, question_id: str, services: ServicesDep) -> Response:
    check_slug(slug)
    voter, new = _voter(request)
    question_id = question_id[:64]
    if not origin_allowed(request, services):
        return _notice("Le formulaire a expiré : rechargez la page.", 403)
    try:
        upstream = await services.api.relay(
            "POST",
            f"{questions_path(slug)}/{quote(question_id, safe='')}/votes",
            json={"voter": voter},
            headers=_relay(request, services),
        )
    except ApiUnavailable:
        return _notice(UNAVAILABLE, 503)
    if upstream.status_code == 200:
        message, status = "Votre vote est compté (une fois par question).", 200
    else:
        message, status = ASK_REFUSALS.get(refusal_code(upstream), UNAVAILABLE), upstream.status_code
    if is_htmx(request):
        response: Response = _notice(message, status)
    elif status == 200:
        response = RedirectResponse(f"/events/{slug}#question-{quote(question_id, safe='')}", status_code=303)
    else:
        event = await services.api.get_event(slug)
        context = {"event": event, "slug": slug, "ask": ask_context(event, error=message)}
        response = page(request, "question.html", context, status=status, cache="no-store")
    return _keep_voter(response, request, services, voter, new)


# --- The console ----------------------------------------------------------------------------


async def moderation_column(services: Services, event: Event, api_token: str) -> str:
    """The column for one console page, read with its moderator's own bearer."""
    questions: list[Question] | None
    try:
        upstream = await services.api.relay(
            "GET", questions_path(event.slug), headers={"Authorization": f"Bearer {api_token}"}
        )
        questions = parse_questions(upstream.json()) if upstream.status_code == 200 else None
    except (ApiUnavailable, ValueError):
        questions = None
    return render_console(services.renderer, slug=event.slug, questions=questions, zone=event.zone)


@router.post("/events/{slug}/console/questions/{question_id}", response_class=HTMLResponse)
async def moderate(request: Request, slug: str, question_id: str, services: ServicesDep) -> Response:
    check_slug(slug)
    moderator = await services.moderator(request)
    if moderator is None:
        url = f"/login?next=/events/{slug}/console&notice=expired"
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": url, "Cache-Control": "no-store"})
        return RedirectResponse(url, status_code=303)
    form = await request.form()
    token = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD, ""))
    if not origin_allowed(request, services) or not csrf_valid(
        services.settings.secret_key, moderator.id, token
    ):
        return _flash(services, "Cette page a expiré : rechargez-la avant d'agir (rien n'a été envoyé).", 403)
    action = str(form.get("action", ""))
    if action not in MODERATION_ACTIONS:
        return _flash(services, "Action incomprise : rechargez la page (rien n'a été envoyé).", 400)
    try:
        upstream = await services.api.relay(
            "POST",
            f"{questions_path(slug)}/{quote(question_id[:64], safe='')}/moderation",
            json={"action": action},
            headers={"Authorization": f"Bearer {moderator.api_token}"},
        )
    except ApiUnavailable:
        message = f"La régie ne répond pas : « {MODERATION_ACTIONS[action]} » n'a peut-être pas été appliqué."
        return _flash(services, message, 503, "error")
    if upstream.status_code == 401:
        await services.sessions.delete(moderator.id)
        url = f"/login?next=/events/{slug}/console&notice=expired"
        return Response(status_code=401, headers={"HX-Redirect": url, "Cache-Control": "no-store"})
    if upstream.status_code == 200:
        level, message, status = "success", MODERATION_DONE[action], 200
    else:
        code = refusal_code(upstream)
        message = f"« {MODERATION_ACTIONS[action]} » n'est pas possible : {moderation_refusal(code)}"
        level, status = "warning", upstream.status_code
    event = await services.api.get_event(slug)
    column = await moderation_column(services, event, moderator.api_token)
    return _flash(services, message, status, level, after=column)


def _flash(
    services: Services, message: str, status: int, level: str = "warning", after: str = ""
) -> Response:
    body = services.renderer.flash(message, level=level) + after
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/events/{slug}/console/questions.{extension}")
async def download(request: Request, slug: str, extension: str, services: ServicesDep) -> Response:
    check_slug(slug)
    if extension not in ("csv", "xlsx"):
        return Response(status_code=404)
    return await moderator_download(
        request,
        services,
        api_path=f"{questions_path(slug)}.{extension}",
        filename=f"{slug}-questions.{extension}",
        back=f"/events/{slug}/console",
    )
