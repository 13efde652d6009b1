"""The frontend's only way to the backend: the public HTTP API and its live WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from frontend.models import (
    Event,
    EventSummary,
    HiddenItem,
    LiveState,
    Overrun,
    Question,
    TimelineEntry,
    VideoChapter,
    parse_timeline,
)

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """The API refused or could not answer; `detail` is its sentence, for logs, never for users.
    `code` is the refusal's stable code (contract v1.1), which `frontend.refusals` says in French."""

    def __init__(self, status: int, detail: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code


class ApiUnavailable(ApiError):
    """The backend could not be reached, timed out, or failed (5xx)."""


class NotFound(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class Invalid(ApiError):
    pass


class Conflict(ApiError):
    """Someone acted first, or the action does not fit the state: `live` is the state now."""

    def __init__(self, detail: str, live: LiveState | None, code: str | None = None) -> None:
        super().__init__(409, detail, code)
        self.live = live


def _path(slug: str) -> str:
    return "/api/v1/events/" + quote(slug, safe="")


class ApiClient:
    """A typed client of the public API v1, sharing one connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            headers={"Accept": "application/json", "User-Agent": "regie-frontend"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_events(self) -> list[EventSummary]:
        payload = await self._get_json("/api/v1/events")
        items = payload if isinstance(payload, list) else payload.get("events", [])
        return [EventSummary.model_validate(item) for item in items]

    async def get_event(self, slug: str) -> Event:
        return Event.model_validate(await self._get_json(_path(slug)))

    async def server_time(self) -> datetime:
        """The backend's clock (`GET /api/v1/time`, never cached)."""
        payload = await self._get_json("/api/v1/time")
        try:
            return datetime.fromisoformat(str(payload["server_time"]).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError) as error:
            raise ApiUnavailable(200, "the time answer has no server_time") from error

    async def get_live(self, slug: str) -> LiveState:
        return LiveState.model_validate(await self._get_json(_path(slug) + "/live"))

    async def get_timeline(self, slug: str) -> list[TimelineEntry]:
        return parse_timeline(await self._get_json(_path(slug) + "/timeline"))

    async def get_video_chapters(self, slug: str) -> list[VideoChapter]:
        payload = await self._get_json(_path(slug) + "/chapters.json")
        chapters = payload.get("chapters", []) if isinstance(payload, dict) else []
        return [VideoChapter.model_validate(chapter) for chapter in chapters]

    async def login(self, username: str, password: str, *, relay: dict[str, str] | None = None) -> str:
        """The bearer token of a moderator; Unauthorized when the credentials are wrong.

        `relay` (`frontend.relay.relay_headers`) names the browser, so that the API's per-address
        login limit counts each moderator's address, not this process's for all of them."""
        response = await self._send(
            "POST",
            "/api/v1/auth/token",
            data={"username": username, "password": password},
            headers=relay or {},
        )
        token = _json(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise ApiUnavailable(response.status_code, "the token answer has no access_token")
        return token

    async def revoke(self, token: str) -> None:
        """End a bearer token on the backend (logout); one already ended is no error."""
        with contextlib.suppress(Unauthorized):
            await self._send("POST", "/api/v1/auth/revoke", headers={"Authorization": f"Bearer {token}"})

    async def token_alive(self, token: str) -> bool:
        """Whether the backend still honours `token`; True when it cannot tell (unreachable)."""
        try:
            await self._send("GET", "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        except (Unauthorized, Forbidden):
            return False
        except ApiError:
            return True
        return True

    async def control(
        self, slug: str, *, token: str, action: str, expected_version: int, target: str | None = None
    ) -> LiveState:
        response = await self._send(
            "POST",
            _path(slug) + "/control",
            json={"action": action, "expected_version": expected_version, "target": target},
            headers={"Authorization": f"Bearer {token}"},
        )
        return LiveState.model_validate(_json(response))

    async def editing(
        self, method: str, path: str, *, token: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """An organiser's request (the editor), answered as it is: the editor shows each refusal
        (412, 409 `item_started`, 422 with its located errors) next to what the organiser typed."""
        try:
            return await self._http.request(
                method, path, headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kwargs
            )
        except httpx.HTTPError as error:
            raise ApiUnavailable(0, f"{method} {path}: {error!r}") from error

    async def get_hidden(self, slug: str, *, token: str) -> dict[str, HiddenItem]:
        """The secrets of the mystery items, by item id: for one moderator's console page only,
        never a fragment shared by consoles, never cached (`no-store`)."""
        response = await self._send(
            "GET", _path(slug) + "/hidden", headers={"Authorization": f"Bearer {token}"}
        )
        items = _json(response).get("items", [])
        hidden = [HiddenItem.model_validate(item) for item in items if isinstance(item, dict)]
        return {item.id: item for item in hidden}

    async def relay(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request whose 4xx answers the caller reads itself (registration forms show each
        refusal in French from its `code`); only an unreachable or failing backend raises."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiUnavailable(0, f"{method} {path}: {error!r}") from error
        if response.status_code >= 500:
            raise _error_for(response)
        return response

    async def _get_json(self, path: str) -> Any:
        return _json(await self._send("GET", path))

    async def get_text(self, path: str) -> httpx.Response:
        """A non-JSON read of the API (an export), relayed as is."""
        return await self._send("GET", path)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiUnavailable(0, f"{method} {path}: {error!r}") from error
        if response.is_success:
            return response
        raise _error_for(response)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise ApiUnavailable(response.status_code, "the API answered something that is not JSON") from error


def _error_for(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    text = detail if isinstance(detail, str) else response.reason_phrase
    given = body.get("code") if isinstance(body, dict) else None
    code = given if isinstance(given, str) else None
    if status == 409:
        live = None
        if isinstance(body, dict) and isinstance(body.get("live"), dict):
            try:
                live = LiveState.model_validate(body["live"])
            except ValidationError:
                live = None
        return Conflict(text, live, code)
    by_status: dict[int, type[ApiError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound, 422: Invalid}
    if status in by_status:
        return by_status[status](status, text, code)
    if status >= 500:
        return ApiUnavailable(status, text, code)
    return Invalid(status, text, code)


# --- the upstream subscription -------------------------------------------------------------------


class LiveListener(Protocol):
    """Who hears an upstream subscription: connection changes, and each programme and live state
    in the order the backend sends them (a version's programme before its live state)."""

    async def upstream_connected(self) -> None: ...

    async def upstream_lost(self, reason: str) -> None: ...

    async def programme_received(self, event: Event, overrun: Overrun | None) -> None: ...

    async def live_received(self, live: LiveState) -> None: ...

    async def questions_received(self, questions: list[Question], total: int) -> None: ...

    async def moderation_received(self, pending: int) -> None: ...

    async def registrations_received(self, registered: int, sessions: dict[str, dict[str, int]]) -> None: ...


@dataclass(frozen=True, slots=True)
class QuestionsMessage:
    """The public question list, as the backend pushes it (at most once a second): the most
    voted (the one on air among them), and how many there are in all."""

    questions: list[Question]
    total: int


@dataclass(frozen=True, slots=True)
class ModerationSignal:
    """The moderators' queue changed; `pending` questions wait (their text is not in it)."""

    pending: int


@dataclass(frozen=True, slots=True)
class RegistrationsSignal:
    """Someone registered, cancelled, signed up or left: `registered` people in all, and by
    session how many are confirmed and waitlisted — counts, no name."""

    registered: int
    sessions: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, capped low: viewers must be back on the live state within
    3 s of the backend's return, and the jitter keeps many frontends from reconnecting in step."""

    first: float = 0.2
    cap: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.first * 2.0 ** min(attempt, 16))
        return ceiling * (0.5 + random.SystemRandom().random() / 2)


Sleep = Callable[[float], Awaitable[None]]
# The backend's close code for `?include=moderation` without a valid relay credential.
NOT_RELAYED = 4403


class LiveFeed:
    """One subscription to an event's live WebSocket, reconnecting until cancelled."""

    def __init__(
        self,
        url: str,
        *,
        backoff: Backoff | None = None,
        open_timeout: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        headers: dict[str, str] | None = None,
        fallback_url: str | None = None,
    ) -> None:
        self.url = url
        # The relay credential (frontend.relay): the backend leaves this subscription out of the
        # audience, since this frontend reports its browsers itself; it also admits the
        # moderators' signal (`moderation`). Refused (another secret key than the backend's),
        # the feed goes on at `fallback_url` without the signal.
        self._headers = headers or {}
        self._fallback_url = fallback_url
        self._backoff = backoff or Backoff()
        self._open_timeout = open_timeout
        self._sleep = sleep

    async def run(self, listener: LiveListener) -> None:
        """Deliver live states to `listener` forever; only cancellation stops it."""
        attempt = 0
        while True:
            reason = "closed"
            try:
                async with connect(
                    self.url,
                    open_timeout=self._open_timeout,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=2,
                    max_size=4 * 2**20,
                    # Messages are small and frequent: compression costs more CPU than it saves.
                    compression=None,
                    user_agent_header="regie-frontend",
                    additional_headers=self._headers,
                ) as socket:
                    attempt = 0
                    await listener.upstream_connected()
                    async for raw in socket:
                        message = parse_message(raw)
                        if isinstance(message, LiveState):
                            await listener.live_received(message)
                        elif isinstance(message, QuestionsMessage):
                            await listener.questions_received(message.questions, message.total)
                        elif isinstance(message, ModerationSignal):
                            await listener.moderation_received(message.pending)
                        elif isinstance(message, RegistrationsSignal):
                            await listener.registrations_received(message.registered, message.sessions)
                        elif message is not None:
                            await listener.programme_received(*message)
            except InvalidStatus as error:
                reason = f"refused with HTTP {error.response.status_code}"
            except ConnectionClosed as error:
                reason = repr(error)
                if error.rcvd is not None and error.rcvd.code == NOT_RELAYED and self._fallback_url:
                    logger.warning(
                        "the backend refused this frontend's relay credential: REGIE_SECRET_KEY differs "
                        "from the backend's; consoles will not see new questions without a reload"
                    )
                    self.url, self._fallback_url = self._fallback_url, None
            except (OSError, TimeoutError, WebSocketException) as error:
                reason = repr(error)
            logger.info("live feed %s lost: %s", self.url, reason)
            await listener.upstream_lost(reason)
            await self._sleep(self._backoff.delay(attempt))
            attempt += 1


UpstreamMessage = (
    LiveState | tuple[Event, Overrun | None] | QuestionsMessage | ModerationSignal | RegistrationsSignal
)


def parse_message(raw: str | bytes) -> UpstreamMessage | None:
    """The live state or the programme of one upstream message; None for anything else (a type
    this frontend does not know is skipped, a malformed message is logged, neither is fatal)."""
    try:
        message = json.loads(raw)
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "live":
            return LiveState.model_validate(message["live"])
        if kind == "programme":
            overrun = message.get("overrun")
            return (
                Event.model_validate(message["programme"]),
                Overrun.model_validate(overrun) if overrun is not None else None,
            )
        if kind == "questions":
            questions = [Question.model_validate(q) for q in message["questions"]]
            return QuestionsMessage(questions, int(message.get("total", len(questions))))
        if kind == "moderation":
            return ModerationSignal(int(message["pending"]))
        if kind == "registrations":
            sessions = {
                str(session_id): {
                    "confirmed": int(counts.get("confirmed", 0)),
                    "waitlisted": int(counts.get("waitlisted", 0)),
                }
                for session_id, counts in dict(message.get("sessions", {})).items()
            }
            return RegistrationsSignal(int(message["registered"]), sessions)
        if kind is not None:
            return None
    except (ValueError, KeyError, TypeError, ValidationError):
        pass
    logger.warning("ignored a malformed live message (%d bytes)", len(raw))
    return None
