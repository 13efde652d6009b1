"""HTTP caching and CORS as a client, a browser or a CDN in front of the API sees them."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import DINER, Api
from tests.test_exports import EXPORTS

READS = (
    "/api/v1/events",
    f"/api/v1/events/{DINER}",
    f"/api/v1/events/{DINER}/timeline",
    *(f"/api/v1/events/{DINER}/{name}" for name in EXPORTS),
)
ORIGIN = {"Origin": "https://partenaire.example"}


def digest_of(body: bytes) -> str:
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode() + '"'


async def validators(api: Api) -> dict[str, str]:
    return {path: (await api.client.get(path)).headers["etag"] for path in READS}


async def test_every_read_carries_a_validator_of_its_own_bytes_and_answers_304(api: Api) -> None:
    for path in READS:
        response = await api.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, no-cache"
        etag = response.headers["etag"]
        # Derived from the public bytes alone: it can hold nothing the body does not show. A
        # programme's is prefixed with its revision (which its body shows), for `If-Match`.
        digest = digest_of(response.content)
        if path == f"/api/v1/events/{DINER}":
            digest = f'"r{response.json()["revision"]}-' + digest.strip('"') + '"'
        assert etag == digest, path
        for if_none_match in (etag, f"W/{etag}", f'"something-else", {etag}', "*"):
            again = await api.client.get(path, headers={"If-None-Match": if_none_match})
            assert (again.status_code, again.content) == (304, b""), (path, if_none_match)
            assert again.headers["etag"] == etag and again.headers["cache-control"] == "public, no-cache"
            assert "content-type" not in again.headers
        stale = await api.client.get(path, headers={"If-None-Match": '"something-else"'})
        assert (stale.status_code, stale.content) == (200, response.content)


async def test_a_change_of_the_show_changes_what_it_changes_and_nothing_else(api: Api) -> None:
    before = await validators(api)
    assert (await api.control("start", 0)).status_code == 200
    after = await validators(api)
    changed = {path for path in READS if before[path] != after[path]}
    # The calendar shows the plan, which did not move: its copies stay good.
    assert changed == set(READS) - {f"/api/v1/events/{DINER}/calendar.ics"}
    for path in changed:
        response = await api.client.get(path, headers={"If-None-Match": before[path]})
        assert response.status_code == 200 and response.content, path


async def test_the_live_state_validator_ignores_the_clock_but_not_the_show(api: Api) -> None:
    path = f"/api/v1/events/{DINER}/live"
    first, second = await api.client.get(path), await api.client.get(path)
    assert first.json()["server_time"] != second.json()["server_time"]
    assert first.headers["etag"] == second.headers["etag"] and first.headers["etag"].startswith('W/"')
    assert first.headers["cache-control"] == "public, no-cache"
    cached = await api.client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")
    assert (await api.control("start", 0)).status_code == 200
    moved = await api.client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert moved.status_code == 200 and moved.json()["version"] == 1


async def test_errors_and_the_server_clock_are_never_stored(api: Api) -> None:
    missing = await api.client.get("/api/v1/events/nobody-2020")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    assert "etag" not in missing.headers
    response = await api.client.get("/api/v1/time")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers
    server_time = datetime.fromisoformat(response.json()["server_time"])
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=5)


async def test_cors_is_open_for_reads_and_closed_for_control(api: Api) -> None:
    for path in (*READS, f"/api/v1/events/{DINER}/live", "/api/v1/time"):
        response = await api.client.get(path, headers=ORIGIN)
        assert response.headers["access-control-allow-origin"] == "*", path
    etag = (await api.client.get(READS[1])).headers["etag"]
    cached = await api.client.get(READS[1], headers={**ORIGIN, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["access-control-allow-origin"] == "*"

    preflight = await api.client.options(
        f"/api/v1/events/{DINER}/chapters.vtt", headers={**ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    for method, path, headers in (
        ("POST", f"/api/v1/events/{DINER}/control", "authorization, content-type"),
        ("PUT", f"/api/v1/events/{DINER}", "authorization, content-type"),
        ("POST", "/api/v1/auth/token", "content-type"),
    ):
        refused = await api.client.options(
            path,
            headers={
                **ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )
        # A browser needs a 2xx preflight that allows the method: it gets neither, and never sends it.
        assert refused.status_code == 400 and refused.text.startswith("Disallowed CORS method"), path
        assert refused.headers["access-control-allow-methods"] == "GET"


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/")
    ]


async def test_the_openapi_document_describes_caching_and_every_error_with_an_example(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for method, path, operation in operations(document):
        responses = operation["responses"]
        where = f"{method} {path}"
        # Public reads; those behind a bearer (secrets, revisions) are `no-store` and not cached.
        # A stream (SSE) never ends: it has no validator.
        streamed = "text/event-stream" in responses.get("200", {}).get("content", {})
        if (
            method == "GET"
            and path.startswith("/api/v1/events")
            and not operation.get("security")
            and not streamed
        ):
            assert "304" in responses, where
            assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"]), where
            assert "If-None-Match" in [p["name"] for p in operation["parameters"]], where
            (content,) = responses["200"]["content"].values()
            assert content["example"], f"{where} has no example"
        errors = {code: r for code, r in responses.items() if code.startswith(("4", "5"))}
        if path == "/api/v1/time":
            assert errors == {}
            continue
        assert errors, f"{where} documents no error"
        for code, response in errors.items():
            reference = response["content"]["application/json"]["schema"]["$ref"]
            schema = schemas[reference.rsplit("/", 1)[1]]
            if code == "422" and reference.endswith("HTTPValidationError"):
                continue  # FastAPI's own, for a malformed request
            assert schema["properties"]["detail"].get("examples"), (where, code)
