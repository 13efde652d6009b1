"""Settings of the frontend, read from the environment (the same names `regie up` documents)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Only ever used on a developer's machine: a deployment without REGIE_SECRET_KEY is warned about,
# because CSRF tokens derived from a public key protect nothing.
DEV_SECRET_KEY = "regie-dev-secret-key-change-me"  # noqa: S105 - public on purpose, and warned about
DEFAULT_API_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class Settings:
    api_url: str = DEFAULT_API_URL
    # Where browsers reach the API (export links): REGIE_API_URL is often an internal address
    # (a container name, loopback) that a visitor's browser cannot open.
    public_api_url: str = ""
    # `redis://…` keeps moderators' sessions in Redis, shared by every `regie web` process behind
    # one address; empty keeps them in this process's memory.
    session_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    # Origins allowed to open the frontend's WebSockets and to post forms, besides the page's own
    # host: needed only behind a proxy that rewrites the Host header.
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    # Cookies get the Secure flag when served over https; force it behind a TLS-terminating proxy.
    secure_cookies: bool = False
    # Long enough for a loaded backend, short enough that a moderator is told within seconds.
    api_timeout_seconds: float = 5.0
    login_max_failures: int = 5
    login_window_seconds: float = 15 * 60
    session_idle_seconds: float = 12 * 3600
    # A hub keeps its upstream subscription this long after its last viewer left, so that a page
    # reload does not tear down and rebuild the subscription.
    hub_linger_seconds: float = 30.0
    # While a show is live, how often a hub re-reads the programme for projected times that move
    # with the clock (an item overrunning pushes everything after it) between two presses.
    projection_refresh_seconds: float = 15.0
    # How often the frontend re-measures its clock's offset to the backend's.
    clock_sync_seconds: float = 300.0

    @property
    def browser_api_url(self) -> str:
        return self.public_api_url or self.api_url

    @property
    def api_ws_url(self) -> str:
        if self.api_url.startswith("https://"):
            return "wss://" + self.api_url.removeprefix("https://")
        return "ws://" + self.api_url.removeprefix("http://")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if environ is None else environ
        secret = env.get("REGIE_SECRET_KEY", "")
        if not secret:
            if "PYTEST_CURRENT_TEST" not in env:
                logger.warning(
                    "REGIE_SECRET_KEY is not set: using the development key. "
                    "Set it to a long random value before putting Régie on a network."
                )
            secret = DEV_SECRET_KEY
        origins = frozenset(
            origin.strip().rstrip("/")
            for origin in env.get("REGIE_WEB_ORIGINS", "").split(",")
            if origin.strip()
        )
        broadcast = env.get("REGIE_BROADCAST_URL", "")
        return cls(
            api_url=(env.get("REGIE_API_URL") or DEFAULT_API_URL).rstrip("/"),
            public_api_url=env.get("REGIE_PUBLIC_API_URL", "").rstrip("/"),
            session_url=broadcast if broadcast.startswith(("redis://", "rediss://")) else "",
            secret_key=secret,
            allowed_origins=origins,
            secure_cookies=env.get("REGIE_SECURE_COOKIES", "").lower() in {"1", "true", "yes"},
        )
