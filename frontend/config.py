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
        return cls(
            api_url=(env.get("REGIE_API_URL") or DEFAULT_API_URL).rstrip("/"),
            secret_key=secret,
            allowed_origins=origins,
            secure_cookies=env.get("REGIE_SECURE_COOKIES", "").lower() in {"1", "true", "yes"},
        )
