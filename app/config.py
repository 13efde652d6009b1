"""Settings, read once from the environment (prefix `REGIE_`), as the contract lists them."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIE_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'regie.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… (default) or postgresql+asyncpg://…",
    )
    broadcast_url: str = Field(default="memory://", description="memory:// or redis://host:port/db")
    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    # A viewer whose socket has not drained one message within this delay is disconnected: it
    # holds memory and a file descriptor for nobody.
    viewer_send_timeout_seconds: float = Field(default=30.0, gt=0)
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    # Addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed, comma
    # separated. Empty: no header names the client, its socket's address does — so no client can
    # escape a throttle by writing a header.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Login attempts allowed per window before `POST /auth/token` answers 429 without checking
    # the password: per user name from one address (a success starts it afresh), per address,
    # and per user name overall.
    api_login_attempts_per_pair: int = Field(default=5, gt=0)
    api_login_attempts_per_address: int = Field(default=30, gt=0)
    api_login_attempts_per_user: int = Field(default=50, gt=0)
    api_login_window_seconds: int = Field(default=60, gt=0)
    # With the embedded broadcast, how often a server looks for changes another process (`regie
    # import`) committed: the longest such a change waits before its viewers see it.
    change_poll_seconds: float = Field(default=0.25, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # Where people open Régie's pages (the frontend), as they type it: exports link each event
    # and item there. Configured, never taken from a request's Host header, which any client sets.
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The pages' public base URL, e.g. https://regie.example.org (REGIE_PUBLIC_URL)",
    )
    # Audience questions and votes allowed per minute: per viewer id, and per address (a town
    # hall's proxy may carry a whole council: the address allowances are the wider ones).
    questions_per_viewer: int = Field(default=5, gt=0)
    questions_per_address: int = Field(default=30, gt=0)
    votes_per_address: int = Field(default=600, gt=0)
    # Registration and its e-mails (see app.mail): links in e-mails point at `public_url`.
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://host:port, smtp://user:password@host:port or smtps://…; unset: .eml files",
    )
    mail_from: str = Field(default="Régie <regie@localhost>")
    outbox_dir: Path = Field(default=DEFAULT_DATA_DIR / "outbox")
    reminder_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    retention_days: int = Field(default=90, ge=0, le=3650)
    # Registrations accepted per client address and window (the frontend forwards its visitor's
    # address: list it in REGIE_TRUSTED_PROXIES, or every visitor counts as the frontend).
    registrations_per_address: int = Field(default=20, gt=0)
    registration_window_seconds: int = Field(default=600, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
