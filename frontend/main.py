"""The frontend application: `uvicorn --factory frontend.main:create_app` (what `regie web` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from frontend.client import ApiClient
from frontend.clock import ServerClock
from frontend.config import DEV_SECRET_KEY, Settings
from frontend.errors import install_error_handlers
from frontend.identity import IdentityMiddleware
from frontend.live import SERVICE_RESTART, HubRegistry, hub_factory
from frontend.presence import AudienceReporter, Pollers, reporting
from frontend.relay import relay_headers
from frontend.render import Renderer
from frontend.request_limits import BodyLimit
from frontend.routes import auth, console, editor, pages, presence, questions, registration
from frontend.security import BrowserIdMiddleware
from frontend.services import Services
from frontend.session_file import FileSessionStore
from frontend.sessions import (
    LoginThrottle,
    MemoryLoginThrottle,
    MemorySessionStore,
    RedisLoginThrottle,
    RedisSessionStore,
    SessionStore,
    connect_redis,
)

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

# Scripts and styles only from this site, no inline code, no eval: htmx is configured for it
# (see base.html). Media may come from wherever the organiser hosts the stream or the replay.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' https: http: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_stores(settings: Settings) -> tuple[SessionStore, LoginThrottle]:
    """Redis when REGIE_BROADCAST_URL names one (several `regie web` share it), else the session
    file when one is set (`regie up`), else memory."""
    if settings.session_url:
        redis = connect_redis(settings.session_url)
        return (
            RedisSessionStore(redis, idle_seconds=settings.session_idle_seconds),
            RedisLoginThrottle(
                redis, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
            ),
        )
    store: SessionStore = (
        FileSessionStore(Path(settings.session_file), idle_seconds=settings.session_idle_seconds)
        if settings.session_file
        else MemorySessionStore(idle_seconds=settings.session_idle_seconds)
    )
    return (
        store,
        MemoryLoginThrottle(
            max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
        ),
    )


def create_app(
    settings: Settings | None = None, *, api_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or Settings()
    if settings.secret_key == DEV_SECRET_KEY:
        logger.warning(
            "REGIE_SECRET_KEY is not set: using the development key. "
            "Set it to a long random value before putting Régie on a network."
        )
    api = ApiClient(settings.api_url, transport=api_transport, timeout=settings.api_timeout_seconds)
    clock = ServerClock(api.server_time, resync_seconds=settings.clock_sync_seconds)
    renderer = Renderer(now_ms=clock.now_ms)
    hubs = HubRegistry(
        hub_factory(
            renderer,
            settings.api_ws_url,
            now=clock.now,
            projection_refresh_seconds=settings.projection_refresh_seconds,
            headers=relay_headers(settings.secret_key),
            api=api,
        ),
        linger_seconds=settings.hub_linger_seconds,
    )
    reporter = AudienceReporter(api=api, hubs=hubs, pollers=Pollers(hubs), secret_key=settings.secret_key)
    sessions, throttle = session_stores(settings)
    services = Services(
        settings=settings,
        api=api,
        renderer=renderer,
        hubs=hubs,
        sessions=sessions,
        throttle=throttle,
        clock=clock,
    )
    # httpx logs every request at INFO: one line per page view drowns what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not (STATIC / "vendor" / "htmx.min.js").is_file():
        logger.warning("htmx is missing from %s: run `make install` (pages will not update live)", STATIC)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Measured in the background: a backend that is down must not keep the pages from starting.
        syncing = asyncio.create_task(clock.run(), name="backend-clock")
        try:
            async with reporting(reporter):
                yield
        finally:
            syncing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncing
            # Viewers are told "service restart" (1012): their pages reconnect by themselves.
            await hubs.aclose(SERVICE_RESTART)
            await sessions.aclose()
            await api.aclose()

    app = FastAPI(
        title="Régie — pages",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.presence = reporter
    registration.hide_tokens_in_access_logs()
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.include_router(editor.router)
    app.include_router(pages.router)
    app.include_router(console.router)
    app.include_router(auth.router)
    app.include_router(registration.router)
    app.include_router(presence.router)
    app.include_router(questions.router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(IdentityMiddleware)  # inside BrowserIdMiddleware: it reads the session id
    app.add_middleware(BrowserIdMiddleware, secure=settings.secure_cookies)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        # Outermost, so that every layer sees the client's address. The servers start with
        # uvicorn's own handling off (it trusts 127.0.0.1 by default); see app.client_address.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
