"""Shared fixtures: migrated databases, a real backend on a real socket, users and tokens.

Servers run for real — uvicorn on a loopback port inside the test's event loop, or `regie`
subprocesses where a test needs to kill one — and clients talk to them over HTTP and
WebSockets exactly as third parties do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from app.cli import import_programmes, read_programme, server_config
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.domain.programme import parse_programme
from app.main import create_app
from app.migrate import upgrade
from app.services.auth import Role, add_user

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "app" / "programmes").glob("*.yaml"))
DINER = "diner-elus-entreprises-2020"
PASSWORD = "correct horse battery"
POSTGRES_ADMIN_URL = os.environ.get(
    "REGIE_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("REGIE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Databases ----------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'regie.db'}"


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards."""
    import asyncpg

    name = f"regie_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


async def migrate(url: str) -> None:
    # Alembic runs its own event loop (env.py), so it goes to a thread.
    await asyncio.to_thread(upgrade, url)


async def seed(url: str, *paths: Path, users: bool = True) -> None:
    settings = Settings(database_url=url)
    documents = [read_programme(path) for path in (paths or SEEDS)]
    await import_programmes(settings, documents)
    if users:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await add_user(session, name="admin", role=Role.ADMIN, password=PASSWORD)
                await add_user(session, name="moderator", role=Role.MODERATOR, password=PASSWORD)
                await add_user(session, name="moderator2", role=Role.MODERATOR, password=PASSWORD)
        finally:
            await engine.dispose()


def programme_file(tmp_path: Path, data: dict[str, Any], name: str = "programme.yaml") -> Path:
    parse_programme(data, source=name)  # fail early if a test's own document is wrong
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def mailbox() -> Iterator[Any]:
    """A real SMTP server on loopback (tests.mailbox) and what it received."""
    from tests.mailbox import smtp_server

    with smtp_server() as running:
        yield running


# --- A backend on a real socket -------------------------------------------------------------


@dataclass
class Api:
    url: str
    settings: Settings
    client: httpx.AsyncClient
    server: uvicorn.Server
    tokens: dict[str, str] = field(default_factory=dict)

    def ws_url(self, slug: str = DINER) -> str:
        return self.url.replace("http://", "ws://") + f"/api/v1/events/{slug}/live/ws"

    async def token(self, name: str = "moderator") -> str:
        if name not in self.tokens:
            response = await self.client.post(
                "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            self.tokens[name] = response.json()["access_token"]
        return self.tokens[name]

    async def control(
        self,
        action: str,
        version: int,
        target: str | None = None,
        *,
        slug: str = DINER,
        user: str = "moderator",
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/events/{slug}/control",
            json={"action": action, "expected_version": version, "target": target},
            headers={"Authorization": f"Bearer {await self.token(user)}"},
        )

    async def live(self, slug: str = DINER) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/events/{slug}/live")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def running_api(settings: Settings, **app_options: Any) -> AsyncIterator[Api]:
    port = free_port()
    config = server_config(create_app(settings, **app_options), host="127.0.0.1", port=port)
    config.access_log = False
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        try:
            yield Api(url=url, settings=settings, client=client, server=server)
        finally:
            server.should_exit = True
            await task


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file made once; each test gets its own copy (argon2 is slow)."""
    path = tmp_path_factory.mktemp("template") / "regie.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def build() -> None:
        await migrate(url)
        await seed(url)

    asyncio.run(build())
    return path


@pytest.fixture
def seeded_sqlite_url(seeded_template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "regie.db"
    shutil.copyfile(seeded_template, copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest.fixture
async def api(seeded_sqlite_url: str) -> AsyncIterator[Api]:
    """The backend on the embedded default, seeded with the programmes and three users."""
    async with running_api(Settings(database_url=seeded_sqlite_url)) as running:
        yield running


# --- `regie` subprocesses ---------------------------------------------------------------------


def regie_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(overrides)
    return env


def regie(
    *args: str, env: dict[str, str], input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def wait_until_serving(url: str, process: subprocess.Popen[Any] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def regie_server(
    *args: str, env: dict[str, str], health: str, log: Path, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A `regie …` server process; killed (hard) at the end if still running."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            **popen,
        )
    try:
        wait_until_serving(health, process)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
