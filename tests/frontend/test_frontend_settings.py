"""The frontend's settings: every field from the environment, keyword arguments over it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from frontend.config import DEV_SECRET_KEY, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"REGIE_{name.upper()}", raising=False)
    monkeypatch.delenv("REGIE_BROADCAST_URL", raising=False)


def test_every_field_is_read_from_its_regie_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "REGIE_API_URL": "http://api:8000/",
        "REGIE_PUBLIC_API_URL": "https://x.example/",
        "REGIE_SESSION_URL": "redis://cache:6379/1",
        "REGIE_SECRET_KEY": "k" * 40,
        "REGIE_WEB_ORIGINS": "https://a.example/, https://b.example",
        "REGIE_SECURE_COOKIES": "true",
        "REGIE_API_TIMEOUT_SECONDS": "2.5",
        "REGIE_VIEWER_SEND_TIMEOUT_SECONDS": "12",
        "REGIE_LOGIN_MAX_FAILURES": "3",
        "REGIE_LOGIN_WINDOW_SECONDS": "60",
        "REGIE_SESSION_IDLE_SECONDS": "600",
        "REGIE_HUB_LINGER_SECONDS": "0",
        "REGIE_PROJECTION_REFRESH_SECONDS": "7",
        "REGIE_CLOCK_SYNC_SECONDS": "42",
        "REGIE_SESSION_FILE": "var/sessions.json",
        "REGIE_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.0/8",
        "REGIE_REVOCATION_CHECK_SECONDS": "5",
        "REGIE_RETENTION_DAYS": "30",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.model_dump() == {
        "api_url": "http://api:8000",
        "public_api_url": "https://x.example",
        "session_url": "redis://cache:6379/1",
        "secret_key": "k" * 40,
        "web_origins": frozenset({"https://a.example", "https://b.example"}),
        "secure_cookies": True,
        "api_timeout_seconds": 2.5,
        "viewer_send_timeout_seconds": 12.0,
        "login_max_failures": 3,
        "login_window_seconds": 60.0,
        "session_idle_seconds": 600.0,
        "hub_linger_seconds": 0.0,
        "projection_refresh_seconds": 7.0,
        "clock_sync_seconds": 42.0,
        "session_file": "var/sessions.json",
        "trusted_proxies": ["10.0.0.1", "10.0.0.0/8"],
        "revocation_check_seconds": 5.0,
        "retention_days": 30,
    }
    # The test names every field: one added without a variable fails here.
    assert {f"REGIE_{name.upper()}" for name in Settings.model_fields} <= set(values)
    # What the caller passes wins over the environment (`regie up` names its own API).
    assert Settings(api_url="http://127.0.0.1:18201").api_url == "http://127.0.0.1:18201"


def test_the_defaults_and_the_broadcasts_redis_for_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.api_url, settings.browser_api_url, settings.session_url) == (
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000",
        "",
    )
    assert settings.secret_key == DEV_SECRET_KEY and settings.web_origins == frozenset()
    monkeypatch.setenv("REGIE_BROADCAST_URL", "memory://")
    assert Settings().session_url == ""
    monkeypatch.setenv("REGIE_BROADCAST_URL", "redis://redis:6379/0")
    assert Settings().session_url == "redis://redis:6379/0"
    assert Settings(api_url="https://api.example").api_ws_url == "wss://api.example"


def test_a_wrong_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIE_API_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ValidationError, match="api_timeout_seconds"):
        Settings()
