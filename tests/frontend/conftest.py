"""Fixtures of the frontend's tests: a fake backend on a real socket, the frontend in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fake_backend import FakeShow, create_fake_api, serve
from fastapi import FastAPI

from frontend.config import Settings
from frontend.main import create_app

SECRET = "test-secret-key"


@pytest.fixture
def show() -> FakeShow:
    return FakeShow()


@pytest.fixture
async def api_url(show: FakeShow) -> AsyncIterator[str]:
    async with serve(create_fake_api(show)) as url:
        yield url


@pytest.fixture
def settings(api_url: str) -> Settings:
    return Settings(
        api_url=api_url,
        secret_key=SECRET,
        hub_linger_seconds=0.05,
        login_max_failures=3,
        api_timeout_seconds=0.5,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def web_url(settings: Settings) -> AsyncIterator[str]:
    """The frontend on a real socket, for its WebSockets."""
    async with serve(create_app(settings)) as url:
        yield url
