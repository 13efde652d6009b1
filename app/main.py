"""The backend application: JSON API and JSON WebSocket, no HTML."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import (
    audience,
    auth,
    control,
    errors,
    events,
    exports,
    hidden,
    live,
    questions,
    registrations,
    resources,
    revisions,
    timesync,
)
from app.api.caching import ConditionalGetMiddleware
from app.api.head import HeadAsGet
from app.api.hot_reads import HotReads
from app.api.openapi import conform
from app.api.request_limits import RequestLimits
from app.client_address import trust_forwarded_headers
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, keep_wal_short
from app.domain.programme import ProgrammeDocument
from app.domain.resources import MAX_BYTES as UPLOAD_MAX_BYTES
from app.live.audience import create_board
from app.live.broadcast import create_broadcast
from app.live.feeds import CoalescedFeed, LoadMessage, moderation_message, registrations_message
from app.live.hub import LiveHub
from app.mail.transport import create_mailer
from app.public import ProgrammeMessage, live_message, live_state, programme_message, questions_message
from app.services import questions as question_service
from app.services.audience import Presence
from app.services.changes import Shows
from app.services.notices import Notices
from app.services.programmes import EventNotFound, load_programme
from app.services.registrations import erase_expired, signup_counts
from app.services.snapshots import Snapshots
from app.services.throttle import Throttle, storage_for

logger = logging.getLogger("app")

DESCRIPTION = """\
Régie runs a live virtual event like a TV control room. Anyone may read events, programmes,
the live state and the timeline; moderators advance the show through `/control`.

**Live WebSocket** — `WS /api/v1/events/{slug}/live/ws` sends `{"type": "live", "live": <LiveState>}`
on connect and after every change of the show, as a text frame. `live.version` grows by one per
change and never goes back on a connection. Clients send nothing. The server closes with 1012
when it restarts (reconnect), 1013 when it cannot reach its database (retry), 4404 for an
unknown event.

**Mystery items** show only their `title` and `teaser` until a moderator reveals them.
"""


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        app_clock = app.state.clock

        def per_event(read: Callable[[AsyncSession, str], Awaitable[bytes]]) -> LoadMessage:
            """A message read in a session of its own; None for an event that does not exist."""

            async def load(slug: str) -> bytes | None:
                async with sessions() as session:
                    try:
                        return await read(session, slug)
                    except EventNotFound:
                        return None

            return load

        async def read_state(session: AsyncSession, slug: str) -> bytes:
            return live_message(live_state(await load_programme(session, slug), server_time=app_clock()))

        async def read_programme(session: AsyncSession, slug: str) -> bytes:
            return programme_message(await load_programme(session, slug), now=app_clock())

        snapshots = Snapshots(sessions)
        hub = LiveHub(
            load_state=per_event(read_state),
            load_programme=per_event(read_programme),
            send_timeout=settings.viewer_send_timeout_seconds,
            on_change=snapshots.changed,
        )
        app.state.login_throttle = Throttle(storage_for(settings.broadcast_url))
        app.state.registration_throttle = Throttle(storage_for(settings.broadcast_url))
        broadcast = create_broadcast(settings.broadcast_url, listener=hub.receive, resync=hub.resync)
        hub.attach(subscribe=broadcast.subscribe, unsubscribe=broadcast.unsubscribe)
        shows = Shows(sessions, broadcast, clock=app_clock, snapshots=snapshots)
        app.state.engine, app.state.sessions = engine, sessions
        app.state.hub, app.state.broadcast, app.state.snapshots = hub, broadcast, snapshots
        app.state.shows = shows

        async def read_questions(session: AsyncSession, slug: str) -> bytes:
            _programme, public = await question_service.public_questions(session, slug)
            return questions_message(public)

        async def read_moderation(session: AsyncSession, slug: str) -> bytes:
            return moderation_message(await question_service.pending_count(session, slug))

        async def read_registrations(session: AsyncSession, slug: str) -> bytes:
            programme = await load_programme(session, slug)
            assert programme.event.pk is not None
            counts = await signup_counts(session, programme.event.pk)
            return registrations_message(programme.attendance.registered, counts)

        app.state.question_feed = feed = CoalescedFeed(
            "questions", load=per_event(read_questions), publish=broadcast.publish
        )
        # The moderators' queue changes on every question asked, public or not: coalesced apart.
        app.state.moderation_feed = moderation_feed = CoalescedFeed(
            "moderation", load=per_event(read_moderation), publish=broadcast.publish
        )
        app.state.registration_feed = registration_feed = CoalescedFeed(
            "registrations", load=per_event(read_registrations), publish=broadcast.publish
        )
        app.state.audience_throttle = Throttle(storage_for(settings.broadcast_url))
        app.state.presence = presence = Presence(
            board=create_board(settings.broadcast_url),
            hub=hub,
            sessions=sessions,
            reporter=f"api:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            clock=app_clock,
        )
        mailer = create_mailer(settings)
        notices = Notices(sessions=sessions, mailer=mailer, settings=settings)
        app.state.mailer, app.state.notices = mailer, notices
        await broadcast.start()
        presence.start()
        # Personal data is kept no longer than promised, even by a server that was down that day.
        try:
            await erase_expired(sessions, now=app_clock(), retention=timedelta(days=settings.retention_days))
        except (SQLAlchemyError, OSError) as error:  # the database away: reads answer 503 meanwhile
            logger.warning("retention: registrations not checked at start-up: %s", type(error).__name__)
        reminders = asyncio.create_task(notices.run_reminders(app_clock), name="reminders")
        checkpoints = asyncio.create_task(keep_wal_short(engine), name="sqlite-checkpoints")
        # Only Redis carries another process's announcements: with the embedded broadcast, this
        # process looks for the changes a command (`regie import`) committed.
        watch = (
            asyncio.create_task(
                shows.follow_database(every=settings.change_poll_seconds), name="regie-changes"
            )
            if settings.broadcast_url.startswith("memory://")
            else None
        )
        try:
            yield
        finally:
            await presence.stop()
            await feed.close()
            await moderation_feed.close()
            await registration_feed.close()
            for task in (reminders, checkpoints):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            await hub.close()
            await broadcast.stop()
            await app.state.login_throttle.aclose()
            await app.state.audience_throttle.aclose()
            await app.state.registration_throttle.aclose()
            await engine.dispose()

    # Swagger UI and ReDoc from an installed package, not a CDN: `/docs` works offline, on a
    # venue's closed network, and without telling a third party who reads the docs.
    app = FastAPIOffline(
        title="Régie",
        version="1.0.0",
        summary="The programme and live state of a live virtual event.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    registrations.hide_tokens_in_access_logs()
    app.state.clock = clock or (lambda: datetime.now(UTC))
    app.add_middleware(HotReads)
    app.add_middleware(ConditionalGetMiddleware)  # inside CORS, so a 304 carries the CORS headers too
    # Reads are public and may be embedded anywhere; control carries a bearer token and is not
    # offered to other origins (no preflight passes for POST or PUT).
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"], allow_headers=[]
    )
    # Uploads check their own size (app.api.resources), up to 20 MB and the form's framing.
    app.add_middleware(RequestLimits, larger={"/resources": UPLOAD_MAX_BYTES + 64 * 1024})
    trust_forwarded_headers(app, settings.trusted_proxies)
    app.add_middleware(HeadAsGet)  # outermost: every layer inside sees a GET

    api = APIRouter(prefix="/api/v1")
    for module in (
        events,
        revisions,
        resources,
        live,
        control,
        hidden,
        auth,
        exports,
        timesync,
        questions,
        audience,
        registrations,
    ):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"], summary="Ready when the database answers")
    async def healthz(request: Request) -> JSONResponse:
        async with request.app.state.sessions() as session:
            await session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    errors.install(app)
    _document_programme(app)
    return app


def _document_programme(app: FastAPI) -> None:
    """Put the programme document's schema in the OpenAPI components.

    `PUT /events/{slug}` reads its body as a plain object and validates it itself, so that a
    refusal can name the segment, item and field in the show's words; its documented schema is
    the programme document all the same, for third parties to build and check theirs against.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            document = ProgrammeDocument.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(document.pop("$defs", {}))
            components["ProgrammeDocument"] = document
            # The live WebSocket's `?include=programme` message (docs/live-websocket.md).
            message = ProgrammeMessage.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="serialization"
            )
            for name, definition in message.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components["ProgrammeMessage"] = message
            app.openapi_schema = conform(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
