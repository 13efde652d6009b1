"""`regie` as an organiser uses it: clear one-line answers, non-zero exits, never a traceback."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import DINER, ROOT, SEEDS, Api, regie, regie_env
from tests.test_programme import MINIMAL


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")


def test_import_before_the_schema_exists_says_what_to_run(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "cli.db").touch()  # a file, but no schema in it
    result = regie("import", str(SEEDS[0]), env=env)
    assert result.returncode == 1
    assert "run `regie db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def assert_says_where_it_looked(stderr: str, missing: Path) -> None:
    assert f"no database at {missing} (REGIE_DATABASE_URL=sqlite+aiosqlite:///{missing})" in stderr
    assert "set REGIE_DATABASE_URL to the server's" in stderr
    assert "Traceback" not in stderr
    assert not missing.exists() and not missing.parent.exists()


def test_user_add_that_finds_no_database_says_where_it_looked_and_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "ailleurs" / "regie.db"
    env = regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{missing}")
    result = regie(
        "user", "add", "regisseur", "--role", "moderator", "--password-stdin",
        env=env, input="un mot de passe assez long\n",
    )  # fmt: skip
    assert result.returncode == 1
    assert_says_where_it_looked(result.stderr, missing)


async def test_rehearse_that_finds_no_database_says_where_it_looked_and_creates_none(
    api: Api, tmp_path: Path
) -> None:
    missing = tmp_path / "ailleurs" / "regie.db"
    env = regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{missing}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "rehearse", DINER, "--api-url", api.url,
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert_says_where_it_looked(stderr.decode(), missing)


def test_import_users_and_a_refused_programme(env: dict[str, str], tmp_path: Path) -> None:
    assert regie("db", "upgrade", env=env).returncode == 0
    imported = regie("import", *map(str, SEEDS), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "created diner-elus-entreprises-2020" in imported.stdout

    bad = copy.deepcopy(MINIMAL)
    bad["segments"][0]["items"][1]["speakers"] = [{"name": ""}]
    path = tmp_path / "essai.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    refused = regie("import", str(path), env=env)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"regie import: {path}: refused, nothing was stored:\n"
        "  - segment 1 « Ouverture », item 2 « Accueil », field `speakers.0.name`: "
        "String should have at least 1 character\n"
    )

    broken = tmp_path / "broken.yaml"
    broken.write_text("slug: x\nsegments: [\n", encoding="utf-8")
    syntax = regie("import", str(broken), env=env)
    assert syntax.returncode == 1
    assert syntax.stderr.startswith(f"regie import: {broken} at line 3, column 1:")

    missing = regie("import", str(tmp_path / "absent.yaml"), env=env)
    assert (missing.returncode, missing.stderr) == (
        1,
        f"regie import: {tmp_path / 'absent.yaml'}: no such file\n",
    )

    added = regie(
        "user", "add", "régisseuse", "--role", "moderator", "--password-stdin", env=env, input="s3cret-pass\n"
    )
    assert (added.returncode, added.stdout) == (0, "added moderator régisseuse\n")
    again = regie(
        "user", "add", "régisseuse", "--role", "admin", "--password-stdin", env=env, input="s3cret-pass\n"
    )
    assert (again.returncode, again.stderr) == (
        1,
        "regie user: A user named « régisseuse » already exists.\n",
    )
    short = regie("user", "add", "x", "--role", "admin", "--password-stdin", env=env, input="short\n")
    assert (short.returncode, short.stderr) == (
        1,
        "regie user: the password must have at least 8 characters\n",
    )
    revoked = regie("user", "revoke", "régisseuse", env=env)
    assert (revoked.returncode, revoked.stdout) == (0, "revoked 0 token(s) of régisseuse\n")


def test_several_workers_need_redis(env: dict[str, str]) -> None:
    result = regie("api", "--workers", "2", env=env)
    assert result.returncode == 1
    assert "REGIE_BROADCAST_URL=redis://" in result.stderr


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = regie_env(REGIE_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    result = regie("db", "upgrade", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("regie db: cannot reach the database (PostgreSQL, REGIE_DATABASE_URL)")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [[], ["up"], ["api"], ["web"], ["import"], ["user", "add"], ["db"]])
def test_every_command_has_help(command: list[str], env: dict[str, str]) -> None:
    result = regie(*command, "--help", env=env)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: regie")


def test_up_says_which_port_is_taken(env: dict[str, str]) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = regie("up", "--api-port", str(port), "--web-port", "0", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"regie up: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "is Régie already running? Choose another port with --api-port\n"
    )


def test_up_leads_a_new_user_to_a_show_that_moves_and_links_its_own_pages(tmp_path: Path) -> None:
    import httpx

    from tests.conftest import free_port, regie_server

    api_port, web_port = free_port(), free_port()
    env = regie_env(REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'up.db'}")
    log = tmp_path / "up.log"
    with regie_server(
        "up", "--api-port", str(api_port), "--web-port", str(web_port),
        env=env, health=f"http://127.0.0.1:{web_port}/login", log=log,
    ):  # fmt: skip
        calendar = httpx.get(f"http://127.0.0.1:{api_port}/api/v1/events/{DINER}/calendar.ics").text
    output = log.read_text(encoding="utf-8")
    assert "regie rehearse diner-elus-entreprises-2020 --speed 60 --starts-in 10s" in output
    assert f"URL:http://127.0.0.1:{web_port}/events/{DINER}" in calendar
    assert "clock measurement failed" not in output
