"""Every refusal answers `{"detail", "code", …}`, with the status its code has, whoever refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.api.errors import STATUS
from app.config import Settings
from app.domain.refusals import Code
from tests.conftest import DINER, Api, running_api


def test_every_code_has_one_status() -> None:
    assert set(STATUS) == set(Code)
    assert all(400 <= status < 600 for status in STATUS.values())


async def test_the_openapi_document_lists_the_codes_as_an_enum(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert components["Code"]["enum"] == [code.value for code in Code]
    for name in ("ErrorDetail", "ConflictDetail", "ProgrammeRefused"):
        assert components[name]["properties"]["code"] == {
            "$ref": "#/components/schemas/Code",
            "description": "Why, as a stable code: clients translate it and never parse `detail`.",
            "examples": ["unknown_event"],
        }
        assert components[name]["required"][:2] == ["detail", "code"]
    conflict = schema["paths"]["/api/v1/events/{slug}/control"]["post"]["responses"]["409"]
    assert "`version_conflict`" in conflict["description"] and "`last_item`" in conflict["description"]


async def pressed(api: Api, *presses: tuple[str, str | None]) -> int:
    version = 0
    for action, target in presses:
        response = await api.control(action, version, target)
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    return version


# Each rule of the show, the press that breaks it, and the code and sentence of its refusal.
SHOW_RULES = [
    ([], ("next", None), "not_started", "The show has not started yet: start it first."),
    (
        [],
        ("reveal", "invite-mystere-1"),
        "not_started",
        "Mystery guests are revealed live: start the show first.",
    ),
    ([("start", None)], ("start", None), "already_live", "The show is already live."),
    (
        [("start", None)],
        ("previous", None),
        "first_item",
        "This is the first item of the programme: there is nothing before it.",
    ),
    ([("start", None)], ("goto", "accueil"), "already_on_air", "« accueil » is already on air."),
    (
        [("start", None)],
        ("reveal", "accueil"),
        "not_mystery",
        "« accueil » is not a mystery item: there is nothing to reveal.",
    ),
    (
        [("start", None), ("reveal", "invite-mystere-1")],
        ("reveal", "invite-mystere-1"),
        "already_revealed",
        "« invite-mystere-1 » has already been revealed.",
    ),
    (
        [("start", None), ("goto", "cloture-ministre")],
        ("next", None),
        "last_item",
        "This is the last item of the programme: end the show instead.",
    ),
    ([("start", None), ("end", None)], ("next", None), "already_ended", "The show has ended."),
    (
        [("start", None), ("end", None)],
        ("start", None),
        "already_ended",
        "The show has ended; it cannot start again.",
    ),
]


@pytest.mark.parametrize(("before", "press", "code", "detail"), SHOW_RULES, ids=[r[2] for r in SHOW_RULES])
async def test_each_rule_of_the_show_refuses_with_its_code_and_the_current_state(
    api: Api, before: list[tuple[str, str | None]], press: tuple[str, str | None], code: str, detail: str
) -> None:
    version = await pressed(api, *before)
    response = await api.control(press[0], version, press[1])
    assert response.status_code == 409
    body = response.json()
    current = await api.live()
    assert body == {
        "detail": detail,
        "code": code,
        "live": {**current, "server_time": body["live"]["server_time"]},
    }
    assert current["version"] == version


async def test_a_target_is_required_by_goto_and_reveal_and_refused_elsewhere(api: Api) -> None:
    await pressed(api, ("start", None))
    for action in ("goto", "reveal"):
        response = await api.control(action, 1, None)
        assert (response.status_code, response.json()) == (
            422,
            {"detail": f"`{action}` needs a `target` item id.", "code": "target_required"},
        )
    response = await api.control("next", 1, "accueil")
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "`next` takes no `target`: leave it null.", "code": "target_not_allowed"},
    )
    assert (await api.live())["version"] == 1


async def test_framework_refusals_carry_a_code_too(api: Api) -> None:
    unknown_path = await api.client.get("/api/v1/nowhere")
    assert (unknown_path.status_code, unknown_path.json()) == (
        404,
        {"detail": "Not Found", "code": "not_found"},
    )

    method = await api.client.delete(f"/api/v1/events/{DINER}")
    assert (method.status_code, method.json()) == (
        405,
        {"detail": "DELETE is not allowed here.", "code": "method_not_allowed"},
    )
    assert method.headers["allow"] == "GET, PUT"

    headers = {"Authorization": f"Bearer {await api.token()}"}
    malformed = await api.client.post(
        f"/api/v1/events/{DINER}/control", json={"action": "dance", "expected_version": 0}, headers=headers
    )
    problem = "body.action: Input should be 'start', 'next', 'previous', 'goto', 'reveal' or 'end'"
    assert (malformed.status_code, malformed.json()) == (
        422,
        {"detail": f"The request is malformed: {problem}", "code": "invalid_request", "errors": [problem]},
    )

    no_token = await api.client.post(f"/api/v1/events/{DINER}/control", json={"action": "start"})
    assert (no_token.status_code, no_token.json()) == (
        401,
        {
            "detail": "A valid bearer token is required: get one from POST /api/v1/auth/token.",
            "code": "unauthenticated",
        },
    )
    assert no_token.headers["www-authenticate"] == "Bearer"


async def test_an_unreachable_database_answers_503_with_its_code(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'regie.db'}")
    async with running_api(settings) as api:
        response = await api.client.get("/api/v1/events")
    body: dict[str, Any] = response.json()
    assert (response.status_code, body) == (
        503,
        {
            "detail": "The database is unreachable for a moment; try again in a few seconds.",
            "code": "database_unavailable",
        },
    )
    assert response.headers["retry-after"] == "2"
