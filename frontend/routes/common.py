"""Helpers shared by the routes: rendering a page, serving a viewer's socket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

from frontend.client import ApiUnavailable, NotFound
from frontend.live import Audience, Viewer
from frontend.security import csrf_token, same_origin
from frontend.services import SLUG, Services
from frontend.sessions import ModeratorSession


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    cache: str = "no-cache",
) -> HTMLResponse:
    services: Services = request.app.state.services
    moderator: ModeratorSession | None = getattr(request.state, "moderator", None)
    if moderator is not None:
        # Every page's header says who is logged in: such a page is this browser's alone.
        context = {
            **context,
            "viewer_name": moderator.username,
            "viewer_csrf": csrf_token(services.settings.secret_key, moderator.id),
        }
        if "no-store" not in cache:
            cache = "private, no-cache"
    html = services.renderer.page(template, context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": cache, "Vary": "Cookie"})


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def origin_allowed(connection: Request | WebSocket, services: Services) -> bool:
    scheme = connection.url.scheme
    return same_origin(connection.headers, scheme=scheme, allowed=services.settings.web_origins)


async def open_event_socket(websocket: WebSocket, services: Services, slug: str) -> bool:
    """Refuse, before accepting, a socket from another site or for an event that does not exist."""
    if not origin_allowed(websocket, services) or not SLUG.fullmatch(slug):
        await websocket.close(code=1008)
        return False
    if services.hubs.get(slug) is None:
        try:
            await services.api.get_event(slug)
        except NotFound:
            await websocket.close(code=1008)
            return False
        except ApiUnavailable:
            pass  # the hub will say the link is down, and catch up when the backend is back
    await websocket.accept()
    return True


async def serve_viewer(websocket: WebSocket, services: Services, slug: str, audience: Audience) -> None:
    """Attach an accepted socket to its event's hub until either side leaves.

    The hub writes to the socket (see frontend.live); this only reads, to learn when it closes:
    the browser leaving, or the hub closing it (1013 for a viewer that stopped reading).
    """
    hub = services.hubs.acquire(slug)
    viewer = Viewer(websocket, audience, label=slug)
    hub.attach(viewer)
    try:
        await _until_disconnect(websocket)
    finally:
        hub.detach(viewer)
        services.hubs.release(slug)


async def _until_disconnect(websocket: WebSocket) -> None:
    # Viewers send nothing that matters: read only to learn when they leave.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def moderator_download(
    request: Request, services: Services, *, api_path: str, filename: str, back: str
) -> Response:
    """A moderators' file from the API (registrations, questions, the report with its audience),
    relayed with the logged-in moderator's bearer; anyone else is sent to log in first."""
    moderator = await services.moderator(request)
    if moderator is None:
        return RedirectResponse(f"/login?next={back}&notice=required", status_code=303)
    bearer = {"Authorization": f"Bearer {moderator.api_token}"}
    answer = await services.api.relay("GET", api_path, headers=bearer)
    if answer.status_code != 200:
        return Response(status_code=answer.status_code)
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
