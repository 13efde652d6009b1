"""Presence on a real socket: every JSON WebSocket, SSE stream and frontend browser is counted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import connect

from app.api.relay import RELAY_HEADER, relay_credential
from tests.conftest import DINER, Api
from tests.test_live_sse import stream

AUDIENCE = f"/api/v1/events/{DINER}/audience"


async def audience(api: Api) -> dict[str, Any]:
    response = await api.client.get(AUDIENCE, headers={"Authorization": f"Bearer {await api.token()}"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def until_viewers(api: Api, viewers: int, within: float = 5.0) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    while True:
        now = await audience(api)
        if now["viewers"] == viewers:
            return now, time.monotonic() - started
        assert time.monotonic() - started < within, f"{now} after {within} s, wanted {viewers} viewers"
        await asyncio.sleep(0.1)


def relay_headers(api: Api) -> dict[str, str]:
    return {RELAY_HEADER: relay_credential(api.settings.secret_key.get_secret_value())}


async def test_websocket_sse_and_frontend_viewers_are_counted_within_five_seconds(api: Api) -> None:
    assert await audience(api) == {"viewers": 0, "peak": 0, "peak_at": None}
    async with connect(api.ws_url()) as one, connect(api.ws_url()) as two:
        await one.recv(), await two.recv()
        async with stream(api) as sse:
            await sse.next()
            _, took = await until_viewers(api, 3)
            assert took < 5
            report = await api.client.post(
                f"{AUDIENCE}/reports",
                json={"reporter": "web-1", "viewers": 40},
                headers=relay_headers(api),
            )
            assert report.status_code == 204
            now, _ = await until_viewers(api, 43)
    assert (now["peak"], now["peak_at"] is not None) == (43, True)
    # The frontend's report ages out (it stopped reporting), the sockets closed: nobody is left.
    left, took = await until_viewers(api, 0, within=7)
    assert (left["peak"], left["peak_at"]) == (43, now["peak_at"])
    curve = await api.client.get(
        f"{AUDIENCE}/curve", headers={"Authorization": f"Bearer {await api.token()}"}
    )
    points = curve.json()["points"]
    assert max(p["viewers"] for p in points) == 43
    assert all(p["at"].endswith(":00Z") for p in points)


async def test_presence_is_for_moderators_and_reports_for_the_frontend_only(api: Api) -> None:
    assert (await api.client.get(AUDIENCE)).status_code == 401
    assert (await api.client.get(f"{AUDIENCE}/curve")).status_code == 401
    forged = await api.client.post(
        f"{AUDIENCE}/reports", json={"reporter": "web-1", "viewers": 10_000}, headers={RELAY_HEADER: "0" * 64}
    )
    assert (forged.status_code, forged.json()["code"]) == (401, "unauthenticated")
    unknown = await api.client.post(
        "/api/v1/events/nope/audience/reports",
        json={"reporter": "w", "viewers": 1},
        headers=relay_headers(api),
    )
    assert unknown.status_code == 404
    assert (await audience(api))["viewers"] == 0


async def test_a_follower_counts_unless_it_is_a_frontend_proven_by_the_relay_credential(api: Api) -> None:
    """`?include=programme` alone hides nobody; the frontend's own subscription, relayed, is left
    out (it reports its browsers instead), and a forged credential is counted like anyone."""
    follow = api.ws_url() + "?include=programme"
    async with (
        connect(follow) as anyone,
        connect(follow, additional_headers=relay_headers(api)) as frontend,
        connect(follow, additional_headers={RELAY_HEADER: "0" * 64}) as forged,
    ):
        for socket in (anyone, frontend, forged):
            await socket.recv()
        await until_viewers(api, 2)


async def test_a_moderators_report_carries_the_audience_curve_and_the_public_one_never(api: Api) -> None:
    import csv
    import io

    import openpyxl

    report = await api.client.post(
        f"{AUDIENCE}/reports", json={"reporter": "web-1", "viewers": 40}, headers=relay_headers(api)
    )
    assert report.status_code == 204
    await until_viewers(api, 40)  # a moderator's read records the minute's value
    bearer = {"Authorization": f"Bearer {await api.token()}"}
    base = f"/api/v1/events/{DINER}"

    public = await api.client.get(f"{base}/report.csv")
    assert public.status_code == 200
    assert b"viewers" not in public.content and b"audience" not in public.content

    mine = await api.client.get(f"{base}/report.csv", headers=bearer)
    assert mine.status_code == 200
    assert mine.headers["cache-control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(mine.text)))
    curve = [row for row in rows if row["level"] == "audience"]
    assert [row["viewers"] for row in curve] == ["40"]
    assert curve[0]["minute"].endswith(":00+01:00")  # the minute, on the event's wall clock
    # Every other row is the public report's, with two empty cells more.
    others = [{k: v for k, v in row.items() if k not in ("minute", "viewers")} for row in rows[: -len(curve)]]
    assert others == list(csv.DictReader(io.StringIO(public.text)))

    workbook = await api.client.get(f"{base}/report.xlsx", headers=bearer)
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content))["Audience"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("minute (Europe/Paris)", "viewers") and values[1][1] == 40
    public_book = openpyxl.load_workbook(io.BytesIO((await api.client.get(f"{base}/report.xlsx")).content))
    assert public_book.sheetnames == ["Rapport"]

    forged = await api.client.get(f"{base}/report.csv", headers={"Authorization": "Bearer nope"})
    assert (forged.status_code, forged.json()["code"]) == (401, "unauthenticated")
