"""The frontend application: `uvicorn --factory frontend.main:create_app` (what `regie web` runs)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontend.client import ApiClient
from frontend.config import Settings
from frontend.errors import install_error_handlers
from frontend.live import SERVICE_RESTART, HubRegistry, hub_factory
from frontend.render import Renderer
from frontend.routes import auth, console, pages
from frontend.security import BrowserIdMiddleware, LoginThrottle, SessionStore
from frontend.services import Services

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


def create_app(
    settings: Settings | None = None, *, api_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or Settings.from_env()
    renderer = Renderer()
    api = ApiClient(settings.api_url, transport=api_transport, timeout=settings.api_timeout_seconds)
    hubs = HubRegistry(
        hub_factory(api, renderer, settings.api_ws_url), linger_seconds=settings.hub_linger_seconds
    )
    services = Services(
        settings=settings,
        api=api,
        renderer=renderer,
        hubs=hubs,
        sessions=SessionStore(idle_seconds=settings.session_idle_seconds),
        throttle=LoginThrottle(
            max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
        ),
    )
    # httpx logs every request at INFO: one line per page view drowns what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not (STATIC / "vendor" / "htmx.min.js").is_file():
        logger.warning("htmx is missing from %s: run `make install` (pages will not update live)", STATIC)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Viewers are told "service restart" (1012): their pages reconnect by themselves.
            await hubs.aclose(SERVICE_RESTART)
            await api.aclose()

    app = FastAPI(
        title="Régie — pages",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.include_router(pages.router)
    app.include_router(console.router)
    app.include_router(auth.router)
    install_error_handlers(app)
    app.add_middleware(BrowserIdMiddleware, secure=settings.secure_cookies)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
