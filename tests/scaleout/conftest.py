"""Several real `regie` processes sharing this machine's PostgreSQL and Redis.

Each test module gets a fresh PostgreSQL database, migrated and seeded, and two backends
(`regie api` subprocesses on fixed ports, so a killed one comes back where its viewers look for
it). Tests pick different events of the seed programmes so that they can share the cluster.
Fault tests stop and start the real services with the machine's own commands; whatever
happens, the `services` fixture leaves both running.

These tests fail, never skip, when PostgreSQL or Redis cannot be reached: they are the proof
that scale-out works, and a missing service is a broken environment, not a reason to pass.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import (
    PASSWORD,
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    ROOT,
    free_port,
    migrate,
    postgres_database,
    regie_env,
    seed,
    wait_until_serving,
)

POSTGRES_VERSION = os.environ.get("REGIE_TEST_POSTGRES_VERSION") or (
    sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else "15"
)
POSTGRES_START = f"pg_ctlcluster --skip-systemctl-redirect {POSTGRES_VERSION} main start"
POSTGRES_STOP = f"pg_ctlcluster --skip-systemctl-redirect {POSTGRES_VERSION} main stop -m fast"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
REDIS_STOP = "redis-cli -p 6379 shutdown nosave"


# --- The machine's services -------------------------------------------------------------------


def postgres_up() -> bool:
    import asyncpg

    async def ping() -> None:
        connection = await asyncpg.connect(
            POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=2
        )
        await connection.close()

    # On a thread of its own: a caller may be inside a running loop (Playwright's sync API runs
    # one in the browser tests' thread), where asyncio.run() refuses to start.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(asyncio.run, ping()).result(10)
        except Exception:  # refused, timed out, or rejected: not usable either way
            return False
    return True


def redis_up() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def run(command: str) -> None:
    subprocess.run(shlex.split(command), check=False, capture_output=True, timeout=60)


def wait_for(check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.1)


def start_postgres() -> None:
    if not postgres_up():
        run(POSTGRES_START)
        wait_for(postgres_up, "PostgreSQL")


def stop_postgres() -> None:
    run(POSTGRES_STOP)
    wait_for(lambda: not postgres_up(), "PostgreSQL's shutdown", timeout=30)


def start_redis() -> None:
    if not redis_up():
        run(REDIS_START)
        wait_for(redis_up, "Redis")


def stop_redis() -> None:
    run(REDIS_STOP)
    wait_for(lambda: not redis_up(), "Redis's shutdown")


@pytest.fixture(scope="session")
def services() -> Iterator[None]:
    """PostgreSQL and Redis, reachable; restarted at the end if a test left one down."""
    missing = [name for name, up in (("PostgreSQL", postgres_up), ("Redis", redis_up)) if not up()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} unreachable on 127.0.0.1 ({POSTGRES_ADMIN_URL}, {REDIS_URL}): "
            "the scale-out tests need both running (see `.ci/run`)."
        )
    yield
    start_redis()
    start_postgres()


@pytest.fixture
def restore_services(services: None) -> Iterator[None]:
    """For a test that stops a service: whatever happens, both run again afterwards."""
    try:
        yield
    finally:
        start_redis()
        start_postgres()


# --- A cluster of backends --------------------------------------------------------------------


@dataclass
class Backend:
    """A `regie api` process (or, with command="web", a `regie web` one) on a fixed port."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    command: str = "api"
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, slug: str) -> str:
        if self.command == "web":
            return f"ws://127.0.0.1:{self.port}/events/{slug}/ws"
        return f"ws://127.0.0.1:{self.port}/api/v1/events/{slug}/live/ws"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", self.command, "--port", str(self.port), *self.options],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        wait_until_serving(f"{self.url}{'/' if self.command == 'web' else '/api/v1/events'}", self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no close frames; its viewers see the TCP connection die."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def redis_ready(self) -> bool:
        """True once this backend's Redis subscriber is connected (read from its log)."""
        return "Redis subscriber connected" in self.log.read_text(errors="replace")


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    backends: list[Backend]
    frontends: list[Backend]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def a(self) -> Backend:
        return self.backends[0]

    @property
    def b(self) -> Backend:
        return self.backends[1]


@pytest.fixture(scope="module")
def cluster(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("cluster")
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(_sync(postgres_database()))

        async def prepare() -> None:
            await migrate(database)
            await seed(database)

        asyncio.run(prepare())
        env = regie_env(
            REGIE_DATABASE_URL=database,
            REGIE_BROADCAST_URL=REDIS_URL,
            REGIE_SECRET_KEY="scaleout-tests-secret",
            # A stuck viewer is not what these tests are about; a short timeout keeps kills quick.
            REGIE_VIEWER_SEND_TIMEOUT_SECONDS="5",
        )
        backends = [Backend(name, free_port(), env, logs / f"{name}.log") for name in ("a", "b")]
        # One frontend per backend: a press on either must reach the pages of both.
        frontends = [
            Backend(
                f"web-{backend.name}",
                free_port(),
                {**env, "REGIE_API_URL": backend.url},
                logs / f"web-{backend.name}.log",
                command="web",
            )
            for backend in backends
        ]
        for server in [*backends, *frontends]:
            stack.callback(server.stop)
            server.start()
        wait_for(lambda: all(backend.redis_ready() for backend in backends), "the Redis subscribers", 10)
        yield Cluster(env, database, backends, frontends)


@contextlib.contextmanager
def _sync(manager: contextlib.AbstractAsyncContextManager[str]) -> Iterator[str]:
    """Runs an async context manager from synchronous (module-scoped) fixture code."""
    loop = asyncio.new_event_loop()
    try:
        value = loop.run_until_complete(manager.__aenter__())
        try:
            yield value
        finally:
            loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.close()


# --- Clients: moderators and viewers ----------------------------------------------------------


class Moderator:
    """Presses buttons on any backend, as a moderator's console would."""

    def __init__(self, cluster: Cluster, client: httpx.AsyncClient) -> None:
        self.cluster = cluster
        self.client = client

    async def token(self, backend: Backend, user: str = "moderator") -> str:
        if user not in self.cluster.tokens:
            response = await self.client.post(
                f"{backend.url}/api/v1/auth/token", data={"username": user, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            self.cluster.tokens[user] = response.json()["access_token"]
        return self.cluster.tokens[user]

    async def press(
        self, backend: Backend, slug: str, action: str, version: int, target: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"{backend.url}/api/v1/events/{slug}/control",
            json={"action": action, "expected_version": version, "target": target},
            headers={"Authorization": f"Bearer {await self.token(backend)}"},
        )

    async def live(self, backend: Backend, slug: str) -> dict[str, Any]:
        response = await self.client.get(f"{backend.url}/api/v1/events/{slug}/live")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def timeline(self, backend: Backend, slug: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"{backend.url}/api/v1/events/{slug}/timeline")
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        return entries


@pytest.fixture
async def moderator(cluster: Cluster) -> AsyncIterator[Moderator]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield Moderator(cluster, client)


HTML_VERSION = re.compile(r'data-version="(\d+)"')


def message_version(raw: str | bytes) -> int | None:
    """The live version a message carries: JSON from the backend, HTML fragments from the frontend
    (None for a heartbeat)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith("{"):
        version: int = json.loads(text)["live"]["version"]
        return version
    found = HTML_VERSION.search(text)
    return int(found.group(1)) if found else None


class Viewer:
    """A live page's socket: records every version it receives and, like htmx's ws extension,
    reconnects when the connection drops (1006, 1011, 1012, 1013)."""

    def __init__(self, url: str, *, reconnect: bool = True) -> None:
        self.url = url
        # The frontend accepts its own pages' sockets only (a browser always sends Origin).
        self.origin = url.replace("ws://", "http://").split("/", 3)[:3]
        self.reconnect = reconnect
        self.versions: list[int] = []
        self.arrivals: list[tuple[int, float]] = []
        self.connections = 0
        self.disorder: list[tuple[int, int]] = []
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> int:
        return self.versions[-1] if self.versions else -1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(10):
            await self.connected.wait()
            while not self.versions:
                await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while True:
            try:
                origin = "/".join(self.origin)
                async with websockets.connect(
                    self.url, open_timeout=5, compression=None, origin=websockets.Origin(origin)
                ) as socket:
                    await self._read(socket)
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            self.connected.clear()
            if not self.reconnect:
                return
            await asyncio.sleep(0.2)

    async def _read(self, socket: ClientConnection) -> None:
        self.connections += 1
        self.connected.set()
        last = -1  # "never a lower version after a higher one" holds per connection
        async for raw in socket:
            version = message_version(raw)
            if version is None:
                continue
            if version < last:
                self.disorder.append((last, version))
            last = version
            self.versions.append(version)
            self.arrivals.append((version, time.time()))

    async def converge(self, version: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.latest < version:
            if time.monotonic() > deadline:
                raise AssertionError(f"viewer of {self.url} stuck at {self.latest}, live is {version}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def viewers(*urls: str) -> AsyncIterator[list[Viewer]]:
    started = [Viewer(url) for url in urls]
    try:
        await asyncio.gather(*(viewer.start() for viewer in started))
        yield started
    finally:
        await asyncio.gather(*(viewer.stop() for viewer in started))
