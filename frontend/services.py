"""The frontend's long-lived parts, built once per application and shared by every route."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from frontend.client import ApiClient
from frontend.clock import ServerClock
from frontend.config import Settings
from frontend.live import HubRegistry
from frontend.models import Event, EventSummary, LiveState
from frontend.presenter import ShowView, show_view
from frontend.render import Renderer
from frontend.sessions import LoginThrottle, ModeratorSession, SessionStore
from frontend.sharing import Recent, SingleFlight

# The API's own rule for slugs: anything else cannot be an event, and is never sent upstream.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")


class UnknownEvent(Exception):
    """The event does not exist (or its slug cannot be one)."""


@dataclass(slots=True)
class Services:
    settings: Settings
    api: ApiClient
    renderer: Renderer
    hubs: HubRegistry
    sessions: SessionStore
    throttle: LoginThrottle
    clock: ServerClock
    _views: SingleFlight[str, ShowView] = field(default_factory=SingleFlight)
    # The list of events changes when a programme is imported: a few seconds late is fine.
    _summaries: Recent[list[EventSummary]] = field(default_factory=lambda: Recent(ttl=10.0))

    async def view(self, slug: str) -> ShowView:
        """The show now: the hub's rendered state when it has one, else read from the API once
        for all the requests that ask at the same moment."""
        check_slug(slug)
        hub = self.hubs.get(slug)
        if hub is not None and hub.rendering.view is not None:
            return hub.rendering.view
        return await self._views.run(slug, lambda: self._read_view(slug))

    async def _read_view(self, slug: str) -> ShowView:
        # The live state first: the programme read after it is at least as new (reveals included).
        live: LiveState = await self.api.get_live(slug)
        event: Event = await self.api.get_event(slug)
        return show_view(event, live)

    async def summaries(self) -> list[EventSummary]:
        return await self._summaries.get(self.api.list_events)

    async def moderator(self, connection: HTTPConnection) -> ModeratorSession | None:
        """The moderator logged in on this browser; SessionStoreUnavailable when Redis is down."""
        return await self.sessions.get(connection.state.session_id)


def check_slug(slug: str) -> None:
    if not SLUG.fullmatch(slug):
        raise UnknownEvent(slug)


def services_of(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services
