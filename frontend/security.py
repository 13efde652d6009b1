"""Moderators' sessions, CSRF tokens, login throttling and Origin checks.

The API token never leaves the server: the browser holds only a random session id, and the
session (user name, token) lives here. Every browser gets an id on its first visit, so that the
login form itself carries a CSRF token; a successful login replaces that id with a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "regie_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
Clock = Callable[[], float]


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret_key: str, session_id: str) -> str:
    """Bound to the session id, so a token stolen before login is useless after it."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, session_id: str, candidate: str | None) -> bool:
    return bool(candidate) and hmac.compare_digest(csrf_token(secret_key, session_id), candidate or "")


@dataclass(slots=True)
class ModeratorSession:
    id: str
    username: str
    api_token: str
    created_at: float
    last_seen: float


class SessionStore:
    """Moderators' sessions in memory: a frontend restart logs moderators out, never in."""

    def __init__(self, *, idle_seconds: float, max_sessions: int = 10_000, clock: Clock = time.monotonic):
        self._sessions: OrderedDict[str, ModeratorSession] = OrderedDict()
        self._idle = idle_seconds
        self._max = max_sessions
        self._clock = clock

    def create(self, username: str, api_token: str) -> ModeratorSession:
        now = self._clock()
        session = ModeratorSession(new_session_id(), username, api_token, now, now)
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> ModeratorSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass(slots=True)
class _Failures:
    times: deque[float] = field(default_factory=deque)


class LoginThrottle:
    """Failed logins per (address, user name) and per address, in a sliding window.

    Counting per pair keeps one attacker from locking a moderator out from everywhere; the
    per-address ceiling stops one address from trying many names.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        max_keys: int = 50_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def _keys(self, address: str, username: str) -> tuple[tuple[str, int], ...]:
        return ((f"pair:{address}:{username.casefold()}", self._max), (f"addr:{address}", self._max * 4))

    def retry_after(self, address: str, username: str) -> float | None:
        """Seconds until this pair may try again, or None when it may try now."""
        now = self._clock()
        waits = []
        for key, limit in self._keys(address, username):
            failures = self._failures.get(key)
            if failures is None:
                continue
            while failures.times and now - failures.times[0] > self._window:
                failures.times.popleft()
            if len(failures.times) >= limit:
                waits.append(self._window - (now - failures.times[0]))
        return max(waits) if waits else None

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        for key, _limit in self._keys(address, username):
            failures = self._failures.pop(key, None) or _Failures()
            failures.times.append(now)
            self._failures[key] = failures
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, address: str, username: str) -> None:
        self._failures.pop(self._keys(address, username)[0][0], None)


def same_origin(headers: Mapping[str, str], *, scheme: str, allowed: frozenset[str]) -> bool:
    """Whether a request's Origin (when the browser sent one) is this site or an allowed one.

    Browsers always send Origin on WebSocket handshakes and cross-site posts; a client without
    it is not a browser and cannot be tricked into acting with a moderator's cookie.
    """
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    host = headers.get("host", "")
    parts = urlsplit(origin)
    if not parts.netloc:
        return False
    expected_schemes = {"http", "https"} if scheme in {"http", "ws"} else {"https"}
    return parts.scheme in expected_schemes and parts.netloc == host


def safe_next(url: str | None, default: str = "/") -> str:
    """Only paths of this site: a login link must not bounce anyone elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return default
    return url


class BrowserIdMiddleware:
    """Gives every browser a session id cookie, and sends a new one when a route rotates it.

    Routes read the id from `request.state.session_id` and rotate it (login, logout) by setting
    `request.state.new_session_id`.
    """

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        current = _cookie(scope, SESSION_COOKIE)
        issued = current is None or not _plausible(current)
        state["session_id"] = current if current is not None and not issued else new_session_id()
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                rotated = state.get("new_session_id")
                if issued or rotated:
                    value = rotated or state["session_id"]
                    cookie = f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure or https:
                        cookie += "; Secure"
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _plausible(session_id: str) -> bool:
    return 20 <= len(session_id) <= 64 and all(c.isalnum() or c in "-_" for c in session_id)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == name:
                    return str(cookie_value)
    return None
