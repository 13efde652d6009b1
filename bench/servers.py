"""The servers under test, each started as its own process, the way a user runs them.

- `regie api` (and `regie web`) on a temporary SQLite database, migrated and seeded, with a
  moderator — exactly the product's commands and settings;
- the baselines: a bare `websockets` server (bench/baseline.py) and a bare Starlette endpoint
  (bench/bare.py), under the same uvicorn settings as `regie api` where that applies.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
SLUG = "diner-elus-entreprises-2020"
MODERATOR = "bench-moderator"
PASSWORD = "bench-password-1234"
SECRET_KEY = "bench-secret-key"
"""The deployment's REGIE_SECRET_KEY: the question load relays with it, as a frontend does."""


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """Resident memory of the server process and any children (uvicorn workers)."""
        process = psutil.Process(self.process.pid)
        return int(
            process.memory_info().rss
            + sum(child.memory_info().rss for child in process.children(recursive=True))
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Workspace:
    """A temporary directory with the database and the servers' logs."""

    root: Path
    database_url: str
    servers: list[Server] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        env.update(
            REGIE_DATABASE_URL=self.database_url,
            REGIE_SECRET_KEY=SECRET_KEY,
            REGIE_BROADCAST_URL="memory://",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def regie(self, *args: str, stdin: str | None = None, **env: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env(**env),
            input=stdin,
            text=True,
            capture_output=True,
            check=True,
            cwd=ROOT,
        )

    def start(
        self,
        name: str,
        command: list[str],
        health: str,
        *,
        port: int,
        stdin: int | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                env=self.env(**(env or {})),
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        server = Server(name, port, process, log)
        self.servers.append(server)
        _wait_until_serving(f"{server.url}{health}", server)
        return server

    def start_api(self, name: str = "api", *, port: int | None = None, **env: str) -> Server:
        port = port or free_port()
        command = [sys.executable, "-m", "app.cli", "api", "--port", str(port)]
        return self.start(name, command, "/healthz", port=port, env=env)

    def start_web(self, api: Server, name: str = "web", *, port: int | None = None, **env: str) -> Server:
        port = port or free_port()
        command = [sys.executable, "-m", "app.cli", "web", "--port", str(port)]
        return self.start(name, command, "/", port=port, env={"REGIE_API_URL": api.url, **env})

    def start_baseline(self) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
        return self.start("baseline", command, "", port=port, stdin=subprocess.PIPE)

    def start_bare_http(self, body_size: int) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "bench.bare", "--port", str(port), "--size", str(body_size)]
        return self.start("bare-http", command, "/bare", port=port)

    def stop(self, server: Server) -> None:
        server.stop()
        self.servers.remove(server)


@contextlib.contextmanager
def workspace() -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="regie-bench-") as directory:
        root = Path(directory)
        space = Workspace(root, f"sqlite+aiosqlite:///{root / 'regie.db'}")
        space.regie("db", "upgrade")
        space.regie("import", *(str(path) for path in sorted((ROOT / "app" / "programmes").glob("*.yaml"))))
        space.regie(
            "user", "add", MODERATOR, "--role", "moderator", "--password-stdin", stdin=PASSWORD + "\n"
        )
        try:
            yield space
        finally:
            for server in list(space.servers):
                server.stop()


def _wait_until_serving(url: str, server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited ({server.process.returncode}); see {server.log}")
        try:
            if url.endswith(f":{server.port}"):  # a bare WebSocket server: the port is enough
                with contextlib.closing(socket.create_connection(("127.0.0.1", server.port), 1)):
                    return
            elif httpx.get(url, timeout=1).status_code < 500:
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not answer at {url} within {timeout:.0f} s; see {server.log}")


class Moderator:
    """Presses through the control API, as the console does; `start`, then next / previous."""

    def __init__(self, api: Server, slug: str = SLUG) -> None:
        self.client = httpx.Client(base_url=api.url, timeout=30)
        self.slug = slug
        token = self.client.post("/api/v1/auth/token", data={"username": MODERATOR, "password": PASSWORD})
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        live = self.client.get(f"/api/v1/events/{slug}/live").json()
        self.version: int = live["version"]
        self.started = live["status"] != "scheduled"
        self.moves = 0

    def press(self) -> tuple[int, float]:
        """One press; returns the new version and `time.time()` just before it was sent."""
        # Start, then next and previous in turn: a show that can go on for any number of presses.
        action = "start" if not self.started else ("next", "previous")[self.moves % 2]
        at = time.time()
        response = self.client.post(
            f"/api/v1/events/{self.slug}/control", json={"action": action, "expected_version": self.version}
        )
        response.raise_for_status()
        if self.started:
            self.moves += 1
        self.started = True
        self.version = response.json()["version"]
        return self.version, at

    def close(self) -> None:
        self.client.close()
