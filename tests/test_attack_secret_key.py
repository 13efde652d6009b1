"""Attack: a public secret key. Without REGIE_SECRET_KEY the pages once signed their CSRF tokens
with a key printed in the source. Now `regie up` on loopback makes a random key once, under
`var/` (mode 0600), and keeps moderators' sessions beside it, so that a restart in the middle of
a show keeps the console open; anywhere else it refuses to start."""

from __future__ import annotations

import contextlib
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.api.relay import RELAY_HEADER, relay_credential
from tests.conftest import DINER, PASSWORD, ROOT, free_port, regie, regie_env, wait_until_serving

CONSOLE = f"/events/{DINER}/console"


@contextlib.contextmanager
def regie_up(workdir: Path, env: dict[str, str], api_port: int, web_port: int) -> Iterator[None]:
    log = (workdir / "up.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "up", "--api-port", str(api_port), "--web-port", str(web_port)],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{web_port}/", process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_regie_up_off_loopback_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    env = regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'regie.db'}")
    result = regie(
        "up", "--host", "0.0.0.0", "--api-port", str(free_port()), "--web-port", str(free_port()), env=env
    )
    assert result.returncode == 1
    assert "REGIE_SECRET_KEY is not set: set it to a long random value before listening on 0.0.0.0" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_regie_up_keeps_its_key_and_the_moderators_sessions_across_a_restart(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'regie.db'}"
    env = regie_env(REGIE_DATABASE_URL=database, PYTHONPATH=str(ROOT))
    created = regie("db", "upgrade", env=env)
    assert created.returncode == 0, created.stderr
    added = regie(
        "user", "add", "moderator", "--role", "moderator", "--password-stdin", env=env, input=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    api_port, web_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"

    with regie_up(tmp_path, env, api_port, web_port), httpx.Client(base_url=web, timeout=10) as browser:
        login = browser.get(f"/login?next={CONSOLE}")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', login.text)
        assert token
        answer = browser.post(
            "/login",
            data={"username": "moderator", "password": PASSWORD, "next": CONSOLE, "csrf_token": token[1]},
        )
        assert answer.status_code == 303, answer.text
        cookies = dict(browser.cookies)
        assert browser.get(CONSOLE).status_code == 200

    key = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 40
    sessions = (tmp_path / "var" / "sessions.json").read_text()
    assert cookies["regie_session"] not in sessions  # filed under a digest of the id …
    assert stat.S_IMODE((tmp_path / "var" / "sessions.json").stat().st_mode) == 0o600

    first_key = key.read_text()
    with regie_up(tmp_path, env, api_port, web_port), httpx.Client(base_url=web, timeout=10) as browser:
        browser.cookies.update(cookies)
        console = browser.get(CONSOLE)
        # … and the same browser is still in the console, not sent to /login.
        assert console.status_code == 200, console.headers.get("location")
        assert "Console" in console.text or "console" in console.text
    assert key.read_text() == first_key


def test_regie_api_and_regie_web_started_apart_share_the_kept_key(tmp_path: Path) -> None:
    """On loopback `regie api` takes `var/secret_key` too: the frontend's relay credential (its
    audience reports, the questions it relays) is then accepted, not refused by a random key."""
    env = regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'regie.db'}", PYTHONPATH=str(ROOT))
    assert regie("db", "upgrade", env=env).returncode == 0
    assert regie("import", str(ROOT / "app" / "programmes" / f"{DINER}.yaml"), env=env).returncode == 0
    port = free_port()
    log = (tmp_path / "api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/v1/events", process)
        key = (tmp_path / "var" / "secret_key").read_text().strip()
        report = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/events/{DINER}/audience/reports",
            json={"reporter": "web-test", "viewers": 3},
            headers={RELAY_HEADER: relay_credential(key)},
        )
        assert report.status_code == 204, report.text
    finally:
        process.terminate()
        process.wait(15)
        log.close()
