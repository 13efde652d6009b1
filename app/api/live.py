"""The live state: read once over HTTP, or pushed over a WebSocket after every change."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse

from app.api.caching import CONDITIONAL_READ, read_responses, weak_etag
from app.api.deps import ClockDep, SettingsDep, SnapshotsDep
from app.api.errors import responses
from app.api.examples import example
from app.api.relay import is_relayed
from app.config import Settings
from app.domain.refusals import Code, Refusal
from app.live.hub import TRY_AGAIN_LATER, LiveHub, Stream
from app.public import LiveState
from app.services.snapshots import Snapshot, Snapshots

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/events", tags=["live"])

# Not one of the codes htmx's ws extension retries on: an unknown event will not appear by retrying.
UNKNOWN_EVENT = 4404


@router.get(
    "/{slug}/live",
    response_model=LiveState,
    responses=read_responses(404, ok=example("LIVE")),
    openapi_extra=CONDITIONAL_READ,
    summary="The live state",
)
async def get_live(slug: str, snapshots: SnapshotsDep, clock: ClockDep) -> Response:
    return live_response(snapshots, await snapshots.get(slug), now=clock())


def live_response(snapshots: Snapshots, entry: Snapshot, *, now: datetime) -> Response:
    body, identity = snapshots.live(entry, now=now)
    # `server_time` differs on every answer; a weak validator over the rest lets a poller get 304
    # until the show itself changes (it measures its clock offset with GET /api/v1/time instead).
    return Response(body, media_type="application/json", headers={"ETag": weak_etag(identity)})


# What `?include=` may ask for, besides the live state every viewer gets. `moderation` (the
# moderators' signals: how many questions wait, how many registered) is for the frontend only:
# its relay credential.
INCLUDES = frozenset({"programme", "moderation"})
# A query that asks for what the server does not have is refused, like a 4xx (see the docs).
UNKNOWN_INCLUDE = 4422
# `moderation` without the frontend's relay credential (X-Regie-Relay).
NOT_RELAYED = 4403


@router.websocket("/{slug}/live/ws", name="live_ws")
async def live_ws(websocket: WebSocket, slug: str, include: str | None = None) -> None:
    """Sends `{"type": "live", "live": …}` on connect and after every change; ignores what it receives.

    With `?include=programme`, each live message is preceded by `{"type": "programme", …}`
    (the public event, as `GET /events/{slug}` answers it) whenever the programme changed.
    Every connection counts in the audience, except a frontend's subscription proven by the
    relay credential (the frontend reports its own browsers).
    """
    hub: LiveHub = websocket.app.state.hub
    settings: Settings = websocket.app.state.settings
    wanted = set(include.split(",")) if include else set()
    await websocket.accept()
    if unknown := wanted - INCLUDES:
        named = ", ".join(sorted(unknown))[:60]
        await websocket.close(UNKNOWN_INCLUDE, reason=f"Unknown include: {named}; known: programme.")
        return
    moderation = "moderation" in wanted
    relayed = is_relayed(websocket, settings)
    if moderation and not relayed:
        await websocket.close(NOT_RELAYED, reason="`moderation` is for the frontend's relay credential.")
        return
    try:
        viewer = await hub.join(
            slug,
            websocket,
            follow=bool(wanted),
            moderation=moderation,
            counted=not relayed,
        )
    except (SQLAlchemyError, OSError) as error:
        logger.warning("live viewer of %s refused: database unreachable (%s)", slug, type(error).__name__)
        await websocket.close(TRY_AGAIN_LATER, reason="The database is unreachable; try again.")
        return
    if viewer is None:
        await websocket.close(UNKNOWN_EVENT, reason=f"There is no event « {slug} ».")
        return
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        await hub.leave(viewer)


SSE_PING_SECONDS = 15
"""A comment line this often: proxies that close idle connections keep the stream open."""

_SSE_EXAMPLE = (
    'event: live\nid: 7\ndata: {"event":"diner-elus-entreprises-2020","version":7,…}\n\n'
    'event: questions\ndata: [{"id":"mJ2qK8xR1v0aZ3pL","text":"…","votes":42,…}]\n\n'
)


@router.get(
    "/{slug}/live/sse",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "A stream of server-sent events that never ends.",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _SSE_EXAMPLE}},
        },
        **responses(404, 503),
    },
    summary="The live state, pushed as server-sent events (for networks that block WebSockets)",
    description="On connect the current state, then after every change `event: live`, "
    "`id: <version>`, `data: <LiveState JSON>`. A client reconnecting with `Last-Event-ID` older than "
    "the current version gets the current state at once (with the current one, nothing until the next "
    "change). `event: questions` carries the public question list (`data`: the list, as `GET "
    "…/questions`) when it changes, at most once a second. A comment line every 15 s keeps proxies "
    "from closing an idle stream.",
)
async def live_sse(
    slug: str,
    request: Request,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> EventSourceResponse:
    hub: LiveHub = request.app.state.hub
    seen = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else None
    stream = await hub.join_stream(slug, last_event_id=seen)
    if stream is None:
        raise Refusal(Code.UNKNOWN_EVENT, f"There is no event « {slug} ».")
    return EventSourceResponse(
        _frames(hub, stream),
        ping=SSE_PING_SECONDS,
        send_timeout=settings.viewer_send_timeout_seconds,
        headers={"Cache-Control": "no-store"},
    )


async def _frames(hub: LiveHub, stream: Stream) -> AsyncIterator[bytes]:
    try:
        while (frames := await stream.next()) is not None:
            for frame in frames:
                yield frame
    finally:
        await hub.leave_stream(stream)
