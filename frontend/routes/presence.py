"""The live page without WebSockets (its SSE stream, its polled fragments) and the console's
audience count."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response

from frontend.audience_chart import AudienceChart, audience_chart
from frontend.client import ApiUnavailable
from frontend.live import EventHub, ascii_html
from frontend.presence import AudienceReporter, StreamViewer, etag_of
from frontend.presenter import ShowView
from frontend.routes.common import moderator_download
from frontend.services import Services, check_slug, services_of
from frontend.sessions import ModeratorSession

router = APIRouter()
ServicesDep = Annotated[Services, Depends(services_of)]


def reporter_of(connection: HTTPConnection) -> AudienceReporter:
    reporter: AudienceReporter = connection.app.state.presence
    return reporter


ReporterDep = Annotated[AudienceReporter, Depends(reporter_of)]


async def _known(services: Services, slug: str) -> None:
    """Raise NotFound for an event that does not exist (before holding a hub for it)."""
    check_slug(slug)
    if services.hubs.get(slug) is None:
        # Unreachable: the hub says the link is down, and catches up when the backend is back.
        with contextlib.suppress(ApiUnavailable):
            await services.api.get_event(slug)


@router.get("/events/{slug}/sse")
async def live_stream(slug: str, services: ServicesDep) -> Response:
    """The live page's messages as server-sent events: each `data` is the very string the page's
    WebSocket would carry (fragments, link status, heartbeats), from the same hub."""
    await _known(services, slug)
    hub = services.hubs.acquire(slug)
    viewer = StreamViewer("public", label=slug)
    hub.attach(viewer)

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for frame in viewer.frames():
                yield frame
        finally:
            hub.detach(viewer)
            services.hubs.release(slug)

    # sse-starlette, not a bare streaming response: it ends the stream when the server shuts down
    # (uvicorn would otherwise wait for every open stream before a restart), and gives up on a
    # client that stops reading instead of holding its hub slot for ever. The hub beats every 3 s,
    # so no ping of its own. No proxy may hold the stream back to buffer it, nor keep a copy.
    return EventSourceResponse(
        stream(),
        ping=0,
        send_timeout=services.settings.viewer_send_timeout_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _public_message(services: Services, hub: EventHub) -> str:
    # The questions list travels apart over the sockets; a poller gets both in one answer.
    questions = hub.questions.messages.get("public", "") if hub.questions is not None else ""
    message = hub.rendering.messages.get("public")
    if message:
        return message + questions
    view = hub.rendering.view
    return _rendered(services, view) + questions if view is not None else ""


def _rendered(services: Services, view: ShowView) -> str:
    renderer = services.renderer
    return ascii_html(renderer.link_status(up=True) + renderer.live_fragments(view))


@router.get("/events/{slug}/fragments")
async def live_fragments(
    request: Request, slug: str, services: ServicesDep, reporter: ReporterDep, page: str | None = None
) -> Response:
    """The live page's current message, for a page that can use neither WebSocket nor SSE: 304
    while it has not changed (`If-None-Match`). `page` is the polling page's random id: it
    counts that page in the audience while it polls."""
    await _known(services, slug)
    reporter.pollers.seen(slug, page)
    hub = services.hubs.acquire(slug)
    try:
        message = _public_message(services, hub)
        if not message:
            # A hub just opened has no state yet: render the show as the page itself would.
            message = _rendered(services, await services.view(slug))
    finally:
        services.hubs.release(slug)
    tag = etag_of(message)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(message, headers=headers)


@router.get("/events/{slug}/console/audience", response_class=HTMLResponse)
async def console_audience(request: Request, slug: str, services: ServicesDep) -> Response:
    """The console's « spectateurs » box: viewers now and the peak, refreshed every few seconds."""
    check_slug(slug)
    moderator = await services.moderator(request)
    if moderator is None:
        return Response(status_code=204)  # htmx swaps nothing; the console's socket sends to /login
    audience = await read_audience(services, slug, moderator.api_token)
    zone = (await services.view(slug)).event.zone
    html = services.renderer.env.get_template("_console_audience.html").render(
        slug=slug, audience=audience, zone=zone
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@dataclass(frozen=True, slots=True)
class AudienceNow:
    viewers: int
    peak: int
    peak_at: datetime | None


async def read_audience(services: Services, slug: str, token: str) -> AudienceNow | None:
    """Viewers now and the peak, from the API; None when it cannot say now."""
    try:
        answer = await services.api.relay(
            "GET",
            f"/api/v1/events/{quote(slug, safe='')}/audience",
            headers={"Authorization": f"Bearer {token}"},
        )
    except ApiUnavailable:
        return None
    if answer.status_code != 200:
        return None
    try:
        body = answer.json()
        peak_at = body.get("peak_at")
        return AudienceNow(
            viewers=int(body["viewers"]),
            peak=int(body["peak"]),
            peak_at=datetime.fromisoformat(peak_at.replace("Z", "+00:00")) if peak_at else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def replay_audience(request: Request, services: Services, slug: str) -> AudienceChart | None:
    """The audience curve for the replay page of a moderator; None for anyone else, or when the
    API cannot say (the page never fails for it)."""
    moderator: ModeratorSession | None = getattr(request.state, "moderator", None)
    if moderator is None:
        return None
    try:
        answer = await services.api.relay(
            "GET",
            f"/api/v1/events/{quote(slug, safe='')}/audience/curve",
            headers={"Authorization": f"Bearer {moderator.api_token}"},
        )
        return audience_chart(answer.json()) if answer.status_code == 200 else None
    except (ApiUnavailable, ValueError):
        return None


@router.get("/events/{slug}/replay/report.{extension}")
async def replay_report(request: Request, slug: str, extension: str, services: ServicesDep) -> Response:
    """The report with the audience curve (the API adds it for a moderator's bearer)."""
    check_slug(slug)
    if extension not in ("csv", "xlsx"):
        return Response(status_code=404)
    return await moderator_download(
        request,
        services,
        api_path=f"/api/v1/events/{quote(slug, safe='')}/report.{extension}",
        filename=f"{slug}-report.{extension}",
        back=f"/events/{slug}/replay",
    )
