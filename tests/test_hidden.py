"""`GET /events/{slug}/hidden`: moderators read the secrets; nothing public ever gets them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Api, programme_file
from tests.test_exports import CANARIES, CANARY_SHOW, everything_public, leaks, paris
from tests.test_projection import clocked_api

SLUG = CANARY_SHOW["slug"]


async def test_a_moderator_reads_every_mystery_items_secrets_uncached(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = programme_file(tmp_path, CANARY_SHOW)
    async with clocked_api(sqlite_url, path, now=paris(23, 18)) as (api, _):
        for user in ("moderator", "admin"):
            response = await api.client.get(
                f"/api/v1/events/{SLUG}/hidden", headers={"Authorization": f"Bearer {await api.token(user)}"}
            )
            assert response.status_code == 200, response.text
            assert response.json() == {
                "items": [
                    {
                        "id": "surprise",
                        "speakers": [{"name": CANARIES[0], "role": CANARIES[1], "organisation": CANARIES[2]}],
                        "announcement": CANARIES[3],
                    }
                ]
            }
            assert response.headers["cache-control"] == "no-store"
            assert "etag" not in response.headers
        # Read it, then look everywhere the public looks: still nothing, not even in the logs.
        assert leaks(await everything_public(api, SLUG)) == {}
        assert not [c for c in CANARIES if c in caplog.text]


async def test_the_secrets_need_a_moderators_token(api: Api) -> None:
    slug = "diner-elus-entreprises-2020"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await api.client.get(f"/api/v1/events/{slug}/hidden", headers=headers)
        assert response.status_code == 401
        assert response.headers["cache-control"] == "no-store"
        assert "mystère" not in response.text.lower()
    token = {"Authorization": f"Bearer {await api.token()}"}
    body = (await api.client.get(f"/api/v1/events/{slug}/hidden", headers=token)).json()
    assert [item["id"] for item in body["items"]] == [f"invite-mystere-{n}" for n in (1, 2, 3)]
    missing = await api.client.get("/api/v1/events/nobody-2020/hidden", headers=token)
    assert missing.status_code == 404


async def test_the_openapi_document_lists_the_secret_read_behind_a_bearer(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/events/{slug}/hidden"]["get"]
    assert operation["security"] and {"200", "401", "403", "404"} <= set(operation["responses"])
