"""Settings of the frontend, read from the environment (prefix `REGIE_`), like the backend's.

Every field can be set: `REGIE_<FIELD>` in upper case (the README lists them). Tests and
`regie up` build a `Settings(...)` with what they need instead of writing the environment;
keyword arguments win over the environment.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Only ever used on a developer's machine: a deployment without REGIE_SECRET_KEY is warned about
# (`frontend.main.create_app`), because CSRF tokens derived from a public key protect nothing.
DEV_SECRET_KEY = "regie-dev-secret-key-change-me"  # noqa: S105 - public on purpose, and warned about
DEFAULT_API_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGIE_", extra="ignore", frozen=True, validate_by_name=True, validate_by_alias=True
    )

    api_url: str = Field(default=DEFAULT_API_URL, description="where the frontend finds the backend")
    # How long the backend keeps registrations after an event (the same REGIE_RETENTION_DAYS):
    # the registration form says it.
    retention_days: int = Field(default=90, ge=0)
    # Where browsers reach the API (export links): REGIE_API_URL is often an internal address
    # (a container name, loopback) that a visitor's browser cannot open.
    public_api_url: str = Field(default="", description="the API's address as browsers reach it")
    # `redis://…` keeps moderators' sessions in Redis, shared by every `regie web` process behind
    # one address; empty keeps them in this process's memory. Unset, the broadcast's Redis is
    # used: whoever scales the backend out with Redis scales the pages out with it.
    session_url: str = Field(
        default="",
        validation_alias=AliasChoices("REGIE_SESSION_URL", "REGIE_BROADCAST_URL"),
        description="redis://… for sessions shared by several processes; empty: in memory",
    )
    # Without Redis, a file to keep moderators' sessions in across restarts (`regie up` sets
    # var/sessions.json); empty keeps them in this process's memory only.
    session_file: str = Field(default="", description="a file for moderators' sessions; empty: memory")
    secret_key: str = Field(default=DEV_SECRET_KEY, min_length=1)
    # Origins allowed to open the frontend's WebSockets and to post forms, besides the page's own
    # host: needed only behind a proxy that rewrites the Host header. Comma-separated.
    web_origins: Annotated[frozenset[str], NoDecode] = Field(default_factory=frozenset)
    # Reverse proxies whose X-Forwarded-For names the client (the login throttle counts per
    # address), comma-separated; nobody else's header is believed. The backend reads the same.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Cookies get the Secure flag when served over https; force it behind a TLS-terminating proxy.
    secure_cookies: bool = False
    # Long enough for a loaded backend, short enough that a moderator is told within seconds.
    api_timeout_seconds: float = Field(default=5.0, gt=0)
    # An SSE viewer that has not taken a message for this long (a dead network, a stuck client)
    # is dropped: it would hold its place in the hub for ever. The backend has the same setting.
    viewer_send_timeout_seconds: float = Field(default=30.0, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_window_seconds: float = Field(default=15 * 60, gt=0)
    session_idle_seconds: float = Field(default=12 * 3600, gt=0)
    # A hub keeps its upstream subscription this long after its last viewer left, so that a page
    # reload does not tear down and rebuild the subscription.
    hub_linger_seconds: float = Field(default=30.0, ge=0)
    # While a show is live, how often a hub moves the projected times to the clock (an item
    # overrunning pushes everything after it) between two presses; from pushed data, no read.
    projection_refresh_seconds: float = Field(default=15.0, gt=0)
    # How often an open console checks that its API token still holds (`regie user revoke`).
    revocation_check_seconds: float = Field(default=3.0, gt=0)
    # How often the frontend re-measures its clock's offset to the backend's.
    clock_sync_seconds: float = Field(default=300.0, gt=0)

    @field_validator("api_url", "public_api_url")
    @classmethod
    def _without_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("session_url")
    @classmethod
    def _redis_or_memory(cls, url: str) -> str:
        # REGIE_BROADCAST_URL=memory:// (the backend's default) means sessions in memory too.
        return url if url.startswith(("redis://", "rediss://")) else ""

    @field_validator("web_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(origin).strip().rstrip("/") for origin in value if str(origin).strip())
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def browser_api_url(self) -> str:
        return self.public_api_url or self.api_url

    @property
    def api_ws_url(self) -> str:
        if self.api_url.startswith("https://"):
            return "wss://" + self.api_url.removeprefix("https://")
        return "ws://" + self.api_url.removeprefix("http://")
