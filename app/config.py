"""Settings, read once from the environment (prefix `REGIE_`), as the contract lists them."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
