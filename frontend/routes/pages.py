"""Public pages: the events, an event's live page and its socket, the replay page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket

from frontend import formatting
from frontend.client import ApiError, ApiUnavailable
from frontend.models import LIVE, SCHEDULED, EventSummary
from frontend.presenter import STATUS_LABELS, ShowView, as_played, replay_kind, show_started_at, youtube_at
from frontend.routes.common import open_event_socket, page, serve_viewer
from frontend.routes.presence import replay_audience
from frontend.routes.questions import answered_questions, question_context
from frontend.routes.registration import form_context
from frontend.services import Services, check_slug, services_of

router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]


def running_order(events: list[EventSummary], now: datetime) -> list[tuple[str, list[EventSummary]]]:
    """Live events first, then the coming ones soonest first, then the past ones latest first.

    An event still `scheduled` whose end has passed (a programme never run live) is past.
    """
    live = [e for e in events if e.status == LIVE]
    coming = sorted(
        (e for e in events if e.status == SCHEDULED and e.ends_at > now), key=lambda e: e.starts_at
    )
    past = sorted(
        (e for e in events if e not in live and e not in coming), key=lambda e: e.starts_at, reverse=True
    )
    groups = [("En direct", live), ("À venir", coming), ("Déjà passés", past)]
    return [(title, group) for title, group in groups if group]


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, services: ServicesDep) -> HTMLResponse:
    now = datetime.now(UTC)
    # Rehearsal copies are unlisted: whoever rehearses is given their address by `regie rehearse`.
    groups = running_order([e for e in await services.summaries() if not e.rehearsal], now)
    return page(request, "index.html", {"groups": groups, "status_labels": STATUS_LABELS, "now": now})


@router.get("/events/{slug}", response_class=HTMLResponse)
async def live_page(request: Request, slug: str, services: ServicesDep) -> HTMLResponse:
    view = await services.view(slug)
    related = await _related(services, view.event.see_also, view.event.starts_at)
    context = {
        "view": view,
        "related": related,
        "api_url": services.settings.browser_api_url,
        **form_context(view.event, services),
        **await question_context(services, view.event, sent=request.query_params.get("question") == "sent"),
    }
    return page(request, "live.html", context)


@router.websocket("/events/{slug}/ws")
async def live_socket(websocket: WebSocket, slug: str) -> None:
    services = services_of(websocket)
    if await open_event_socket(websocket, services, slug):
        await serve_viewer(websocket, services, slug, "public")


@router.get("/events/{slug}/overlay", response_class=HTMLResponse)
async def overlay_page(request: Request, slug: str, services: ServicesDep) -> HTMLResponse:
    """The lower third for OBS. While the backend is unreachable it is an empty, transparent page
    that connects and fills itself in: an error page would be broadcast on the video."""
    check_slug(slug)
    view: ShowView | None
    event: EventSummary
    try:
        view = await services.view(slug)
        event = view.event
    except ApiUnavailable:
        view = None
        event = await _event_or_placeholder(services, slug)
    return page(request, "overlay.html", {"view": view, "event": event})


@router.websocket("/events/{slug}/overlay/ws")
async def overlay_socket(websocket: WebSocket, slug: str) -> None:
    services = services_of(websocket)
    if await open_event_socket(websocket, services, slug):
        await serve_viewer(websocket, services, slug, "overlay")


@router.get("/events/{slug}/chapters.vtt")
async def chapters_track(slug: str, services: ServicesDep) -> Response:
    """The API's WebVTT chapters, from this site: a `<track>` must be same-origin (or CORS on the
    video too), and the replay video is hosted wherever the organiser put it."""
    check_slug(slug)
    upstream = await services.api.get_text(f"/api/v1/events/{slug}/chapters.vtt")
    return Response(
        upstream.content,
        media_type="text/vtt; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/time")
async def server_time(services: ServicesDep) -> JSONResponse:
    """The backend's clock as this frontend measured it, for the pages' own measurement: the
    browser talks only to this site, and this site knows its offset to the backend."""
    now_ms = services.clock.now_ms()
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    return JSONResponse(
        {"server_time": formatting.iso(moment), "server_time_ms": now_ms, "synced": services.clock.synced},
        headers={"Cache-Control": "no-store"},
    )


@router.get("/events/{slug}/replay", response_class=HTMLResponse)
async def replay_page(request: Request, slug: str, services: ServicesDep) -> HTMLResponse:
    check_slug(slug)
    event = await services.api.get_event(slug)
    timeline = await services.api.get_timeline(slug)
    video_chapters = await services.api.get_video_chapters(slug)
    related = await _related(services, event.see_also, event.starts_at)
    started = show_started_at(event, timeline)
    ended = event.ended_at or next((e.at for e in reversed(timeline) if e.action == "end"), None)
    return page(
        request,
        "replay.html",
        {
            "event": event,
            "status_label": STATUS_LABELS.get(event.status, event.status),
            "started_at": started,
            "ended_at": ended,
            "running_order": as_played(event, timeline, video_chapters),
            "replay_kind": replay_kind(event.replay_url),
            "youtube_at": youtube_at,
            "related": related,
            "api_url": services.settings.browser_api_url,
            "audience": await replay_audience(request, services, slug),
            "answered_questions": await answered_questions(services, slug),
        },
    )


async def _event_or_placeholder(services: Services, slug: str) -> EventSummary:
    """For a page that must render while the backend is away: the event's name if known."""
    try:
        return next(e for e in await services.summaries() if e.slug == slug)
    except (ApiError, StopIteration):
        return EventSummary(slug=slug, title="Direct", starts_at=datetime.now(UTC), ends_at=datetime.now(UTC))


async def _related(
    services: Services, slugs: list[str], starts_at: datetime
) -> list[tuple[str, EventSummary]]:
    """The events a programme points to, each with how it relates in time: `suite` or `avant`."""
    if not slugs:
        return []
    try:
        by_slug = {event.slug: event for event in await services.summaries()}
    except ApiError:
        return []  # a missing "see also" must not cost the whole page
    found = [by_slug[slug] for slug in slugs if slug in by_slug]
    return [("À suivre" if other.starts_at > starts_at else "Précédemment", other) for other in found]
