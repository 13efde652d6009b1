"""Real servers for the browser tests: `regie api` and `regie web` subprocesses on loopback ports,
on a temporary SQLite database, shared by the whole session (each test drives its own event)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
REGIE = str(Path(sys.executable).parent / "regie")
DINER = "diner-elus-entreprises-2020"
WEBINAR = "odd17-en-pratique-2020"
PASSWORD = "un mot de passe assez long"
MODERATORS = ("alice", "bruno")
ADMINS = ("claire", "damien")
# Each test runs its own copy of this small programme, so tests never share a show's state.
TEST_EVENTS = (
    "essai-viewer",
    "essai-canary",
    "essai-console",
    "essai-conflict",
    "essai-restart",
    "essai-long-restart",
    "essai-replay",
    "essai-order",
    "essai-away",
    "essai-horloge",
    "essai-overlay",
    "essai-edit-live",
    "essai-edit-two",
    "essai-edit-docs",
    "essai-silence",
    "essai-axe",
    "essai-repli",
    "essai-questions",
    "essai-questions-canary",
)
# Minutes from now to each test programme's start: most start soon, so countdowns read as on the
# night; the clock test's started ten minutes ago, so starting it makes the show run late.
STARTS_IN_MINUTES = {"essai-horloge": -10}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def canary(slug: str, what: str) -> str:
    return f"CANARY-{what}-{slug}-c4n4ry"


def programme_yaml(slug: str) -> str:
    """A YAML programme: four items, one of them a mystery whose secrets are canary strings.

    It starts a few minutes from now, so countdowns and drift read as they would on the night.
    """
    replay = 'replay_url: "https://videos.example.org/essai/replay.mp4"\n' if slug == "essai-replay" else ""
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
        minutes=STARTS_IN_MINUTES.get(slug, 3)
    )
    t = [(start + timedelta(minutes=30 * n)).isoformat() for n in range(5)]
    return f"""
slug: {slug}
title: "Soirée d'essai « {slug} »"
subtitle: "Jouons collectif !"
description: "Une soirée pour essayer la régie."
timezone: Europe/Paris
location: "En ligne"
starts_at: "{t[0]}"
ends_at: "{t[4]}"
organiser: "Association Essai"
partners: ["Banque des Essais", "Observatoire des essais"]
{replay}segments:
  - id: ouverture
    title: "Ouverture de la soirée"
    planned_start: "{t[0]}"
    planned_end: "{t[2]}"
    items:
      - id: accueil
        kind: welcome
        title: "Accueil des participants"
        planned_start: "{t[0]}"
        speakers:
          - name: "Alice MARTIN"
            role: "Présidente"
            organisation: "Association Essai"
      - id: etude
        kind: talk
        title: "Les résultats de l'étude"
        speakers:
          - name: "Bernard DURAND"
            role: "Chercheur"
            organisation: "Institut Essai"
      - id: mystere
        kind: announcement
        title: "Une annonce pour les territoires"
        mystery: true
        teaser: "Un invité mystère viendra faire une annonce… mais c'est une surprise !"
        hidden:
          announcement: "{canary(slug, "ANNOUNCEMENT")}"
          speakers:
            - name: "{canary(slug, "NAME")}"
              role: "{canary(slug, "ROLE")}"
              organisation: "{canary(slug, "ORG")}"
  - id: cloture
    title: "Clôture"
    planned_start: "{t[2]}"
    planned_end: "{t[4]}"
    items:
      - id: mot-de-la-fin
        kind: closing
        title: "Le mot de la fin"
        speakers:
          - name: "Chloé PETIT"
            role: "Directrice"
            organisation: "Association Essai"
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: once pytest-playwright's sync API has started, its event loop stays
    current for the rest of the session, and asyncio tests after it could not run their own."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.ready_url, timeout=1).status_code < 500:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: see {self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


@dataclass
class Stack:
    api_url: str
    web_url: str
    api: Server
    web: Server
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str = "alice") -> str:
        if username not in self.tokens:
            answer = httpx.post(
                f"{self.api_url}/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            answer.raise_for_status()
            self.tokens[username] = answer.json()["access_token"]
        return self.tokens[username]

    def live(self, slug: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.api_url}/api/v1/events/{slug}/live")
        answer.raise_for_status()
        return dict(answer.json())

    def control(self, slug: str, action: str, target: str | None = None) -> dict[str, Any]:
        """A moderator's press through the public API, on the version it reads first."""
        version = self.live(slug)["version"]
        answer = httpx.post(
            f"{self.api_url}/api/v1/events/{slug}/control",
            json={"action": action, "expected_version": version, "target": target},
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run(argv, env=env, input=stdin, text=True, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("regie")
    api_port, web_port = free_port(), free_port()
    api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'regie.db'}",
        "REGIE_BROADCAST_URL": "memory://",
        "REGIE_API_URL": api_url,
        "REGIE_SECRET_KEY": "browser-tests-secret-key-0123456789",
        "PYTHONUNBUFFERED": "1",
    }
    _run([REGIE, "db", "upgrade"], env)
    files = [str(ROOT / "app" / "programmes" / f"{slug}.yaml") for slug in (DINER, WEBINAR)]
    for slug in TEST_EVENTS:
        path = home / f"{slug}.yaml"
        path.write_text(programme_yaml(slug), encoding="utf-8")
        files.append(str(path))
    _run([REGIE, "import", *files], env)
    for name in MODERATORS:
        _run(
            [REGIE, "user", "add", name, "--role", "moderator", "--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
    for name in ADMINS:
        _run([REGIE, "user", "add", name, "--role", "admin", "--password-stdin"], env, stdin=PASSWORD + "\n")
    api = Server(
        "regie api",
        [REGIE, "api", "--host", "127.0.0.1", "--port", str(api_port)],
        env,
        f"{api_url}/api/v1/events",
        home / "api.log",
    )
    web = Server(
        "regie web",
        [REGIE, "web", "--host", "127.0.0.1", "--port", str(web_port)],
        env,
        f"{web_url}/login",
        home / "web.log",
    )
    api.start()
    web.start()
    try:
        yield Stack(api_url=api_url, web_url=web_url, api=api, web=web, env=env)
    finally:
        web.stop()
        api.stop()


@pytest.fixture(autouse=True)
def servers_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that stops a server and fails before starting it again leaves it down: start it here,
    so that one failure is reported once and not again by every browser test after it."""
    yield
    if "stack" not in request.fixturenames:
        return
    stack: Stack = request.getfixturevalue("stack")
    for server in (stack.api, stack.web):
        if server.process is None or server.process.poll() is not None:
            server.process = None
            server.start()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Debian's Chromium, never a downloaded build (`playwright install` is not used here).
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def login(page: Page, stack: Stack, username: str, next_path: str) -> None:
    page.goto(f"{stack.web_url}{next_path}")
    page.wait_for_url("**/login**")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{next_path}")


@pytest.fixture
def moderator_context(browser: Any, browser_context_args: dict[str, Any]) -> Iterator[BrowserContext]:
    context: BrowserContext = browser.new_context(**browser_context_args)
    yield context
    context.close()


@pytest.fixture(scope="session")
def base_url(stack: Stack) -> str:
    """Pages open relative to the frontend (replaces pytest-base-url's fixture)."""
    return stack.web_url
