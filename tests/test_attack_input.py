"""Attack: hostile input to a real backend (and `regie import`), on SQLite and PostgreSQL.

Every one of these once answered 500 (a traceback in the log), 503 (« database unreachable »
for a NUL byte on PostgreSQL), or took the process's memory. What holds: a 4xx whose body names
the field, in the contract's shape, and nothing stored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings
from tests.conftest import (
    DINER,
    SEEDS,
    Api,
    migrate,
    postgres_database,
    regie,
    regie_env,
    running_api,
    seed,
)

DINER_SEED = next(path for path in SEEDS if "diner" in path.name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_api(request: pytest.FixtureRequest, seeded_sqlite_url: str) -> AsyncIterator[Api]:
    """The backend on the embedded default, then on PostgreSQL."""
    if request.param == "sqlite":
        async with running_api(Settings(database_url=seeded_sqlite_url)) as api:
            yield api
        return
    async with postgres_database() as url:
        await migrate(url)
        await seed(url, DINER_SEED)
        async with running_api(Settings(database_url=url)) as api:
            yield api


def diner() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DINER_SEED.read_text(encoding="utf-8"))
    return data


async def put(api: Api, body: Any, slug: str = DINER) -> Any:
    return await api.client.put(
        f"/api/v1/events/{slug}", json=body, headers={"Authorization": f"Bearer {await api.token('admin')}"}
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
async def test_a_date_that_overflows_in_utc_is_refused_by_name(api: Api, when: str) -> None:
    document = diner()
    document["starts_at"] = when
    response = await put(api, document)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_document"
    assert body["errors"] == ["field `starts_at`: this time falls outside the calendar once converted to UTC"]
    assert (await api.client.get(f"/api/v1/events/{DINER}")).json()["starts_at"] == "2020-11-23T18:00:00Z"


async def test_a_date_far_in_the_future_is_refused_before_it_breaks_a_page(api: Api) -> None:
    document = diner()
    document["ends_at"] = "9999-12-31T23:00:00Z"
    response = await put(api, document)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        "field `ends_at`: a programme's times fall between the years 1900 and 2999"
    ]


def test_regie_import_refuses_an_overflowing_date_by_name(tmp_path: Path, seeded_sqlite_url: str) -> None:
    document = diner()
    document["segments"][0]["planned_start"] = "0001-01-01T00:00:00+14:00"
    path = tmp_path / "overflow.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = regie("import", str(path), env=regie_env(REGIE_DATABASE_URL=seeded_sqlite_url))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "segment 1 « Les élus à la manœuvre : de la connaissance aux compétences ! », field `planned_start`: "
        "this time falls outside the calendar once converted to UTC" in result.stderr
    ), result.stderr


@pytest.mark.parametrize("version", ["1", True, False, 10**30, -1, 1.5, None, [1]])
async def test_expected_version_takes_integers_only(api: Api, version: Any) -> None:
    response = await api.client.post(
        f"/api/v1/events/{DINER}/control",
        json={"action": "start", "expected_version": version},
        headers={"Authorization": f"Bearer {await api.token()}"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert "expected_version" in response.json()["detail"]
    assert (await api.live())["status"] == "scheduled"


async def test_five_thousand_digits_of_version_are_refused(api: Api) -> None:
    body = '{"action": "start", "expected_version": ' + "9" * 5000 + "}"
    response = await api.client.post(
        f"/api/v1/events/{DINER}/control",
        content=body,
        headers={"Authorization": f"Bearer {await api.token()}", "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert "9" * 100 not in response.text


async def test_a_nul_byte_in_a_slug_is_an_unknown_event_on_every_database(any_api: Api) -> None:
    for path in (
        "/api/v1/events/diner%00",
        f"/api/v1/events/{DINER}%00/live",
        "/api/v1/events/x%00/timeline",
    ):
        response = await any_api.client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "unknown_event"


async def test_a_nul_byte_in_a_user_name_is_refused_by_name_on_every_database(any_api: Api) -> None:
    response = await any_api.client.post(
        "/api/v1/auth/token", data={"username": "admin\x00", "password": "whatever it is"}
    )
    assert response.status_code == 422, response.text
    assert "username" in response.json()["detail"]


async def test_a_nul_byte_in_a_title_is_refused_by_name_on_every_database(any_api: Api) -> None:
    document = diner()
    document["segments"][0]["items"][0]["title"] = "Accueil\x00"
    response = await put(any_api, document)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        "segment 1 « Les élus à la manœuvre : de la connaissance aux compétences ! », "
        "item 1 « Accueil\x00 »: "
        "field `title` contains a NUL character (\\x00), "
        "which no text may hold"
    ]


async def test_a_nul_byte_the_database_cannot_store_is_bad_input_not_an_outage(any_api: Api) -> None:
    """Wherever else a NUL slips through to PostgreSQL, it is a 422, not « unreachable » (503)."""
    response = await any_api.client.post(
        f"/api/v1/events/{DINER}/control",
        json={"action": "goto", "expected_version": 0, "target": "x\x00"},
        headers={"Authorization": f"Bearer {await any_api.token()}"},
    )
    assert response.status_code in (404, 409, 422), response.text


async def test_caps_on_segments_items_and_speakers(api: Api) -> None:
    document = diner()
    many = copy.deepcopy(document)
    many["segments"][0]["items"] = many["segments"][0]["items"] * 101
    response = await put(api, many)
    assert response.status_code == 422
    assert any("List should have at most 100 items" in error for error in response.json()["errors"])
    speakers = copy.deepcopy(document)
    speakers["segments"][0]["items"][1]["speakers"] = [{"name": f"Élu {n}"} for n in range(51)]
    response = await put(api, speakers)
    assert response.status_code == 422
    assert "field `speakers`: List should have at most 50 items" in response.text


async def test_a_body_over_a_megabyte_is_refused_unread(api: Api) -> None:
    response = await api.client.put(
        f"/api/v1/events/{DINER}",
        content=b'{"title": "' + b"x" * 2_000_000 + b'"}',
        headers={"Authorization": f"Bearer {await api.token('admin')}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def alias_bomb(levels: int = 3, width: int = 400) -> str:
    """A few kilobytes of YAML standing for width ** levels values."""
    lines = ["slug: bombe", "title: Bombe", "l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines.append(f"segments: [*l{levels - 1}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once_with_a_message(tmp_path: Path, seeded_sqlite_url: str) -> None:
    path = tmp_path / "bombe.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    assert path.stat().st_size < 60_000
    started = time.monotonic()
    # A timeout, not a timing assertion: on a build without the guard the import runs for
    # minutes and gigabytes, and is killed here.
    result = regie("import", str(path), env=regie_env(REGIE_DATABASE_URL=seeded_sqlite_url), timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "values once its aliases (*name) are expanded" in result.stderr, result.stderr
    print(f"alias bomb refused in {elapsed:.2f} s (process start included)")


async def test_a_refusal_does_not_echo_kilobytes_of_the_request(api: Api) -> None:
    slug = "x" * 5000
    response = await api.client.get(f"/api/v1/events/{slug}")
    assert response.status_code == 404
    assert len(response.content) < 400
    response = await api.client.post(
        f"/api/v1/events/{DINER}/control",
        json={"action": "goto", "expected_version": 0, "target": "y" * 5000},
        headers={"Authorization": f"Bearer {await api.token()}"},
    )
    assert len(response.content) < 4000, response.status_code


async def test_api_responses_say_nosniff(api: Api) -> None:
    for path in ("/api/v1/events", f"/api/v1/events/{DINER}/live", "/api/v1/events/nope", "/healthz"):
        response = await api.client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path


async def test_openapi_says_the_body_slug_must_equal_the_paths(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    body = document["paths"]["/api/v1/events/{slug}"]["put"]["requestBody"]
    assert "must equal the path's `{slug}`" in body["description"]
