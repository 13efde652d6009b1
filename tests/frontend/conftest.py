"""Fixtures of the frontend's tests: the real backend on a seeded copy, the frontend in front of it.

The backend is `app.main.create_app` on its own SQLite file (the seeded template, plus the
test programme `soiree-test` and the moderator `regie`), served on a loopback socket and wrapped
by `backend.Faults` for what a test needs to go wrong. No second implementation of the show.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import programme_samples as samples
import pytest
import uvicorn
from backend import USER, USER_PASSWORD, Backend
from fastapi import FastAPI

from app.cli import import_programmes
from app.config import Settings as BackendSettings
from app.db import create_engine, create_sessionmaker
from app.domain.programme import parse_programme
from app.services.auth import Role, add_user
from frontend.config import Settings
from frontend.main import create_app
from tests.conftest import free_port

SECRET = "test-secret-key"


@pytest.fixture(scope="session")
def frontend_template(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded database with the frontend's test programme and moderator, made once."""
    path = tmp_path_factory.mktemp("frontend-template") / "regie.db"
    shutil.copyfile(seeded_template, path)
    url = f"sqlite+aiosqlite:///{path}"

    async def build() -> None:
        document = parse_programme(samples.document(), source="programme_samples")
        await import_programmes(BackendSettings(database_url=url), [document])
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await add_user(session, name=USER, role=Role.MODERATOR, password=USER_PASSWORD)
        finally:
            await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
def backend_url_of_copy(frontend_template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "regie.db"
    shutil.copyfile(frontend_template, copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest.fixture
async def backend(backend_url_of_copy: str) -> AsyncIterator[Backend]:
    running = Backend(backend_url_of_copy, secret_key=SECRET)  # one deployment: one shared key
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
def api_url(backend: Backend) -> str:
    return backend.url


@pytest.fixture
def settings(api_url: str) -> Settings:
    return Settings(
        api_url=api_url,
        secret_key=SECRET,
        hub_linger_seconds=0.05,
        login_max_failures=3,
        # Logging in hashes a password on the real backend: slow on a loaded machine.
        api_timeout_seconds=5.0,
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


async def serve(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def web_url(settings: Settings) -> AsyncIterator[str]:
    """The frontend on a real socket, for its WebSockets."""
    async for url in serve(create_app(settings)):
        yield url
