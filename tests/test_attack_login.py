"""Attack: a flood of wrong passwords against `POST /api/v1/auth/token`, on a real server.

Sixteen clients post wrong passwords as fast as they are answered, some rotating
X-Forwarded-For. What holds: the API checks at most a handful of those passwords (the rest are
429 with `Retry-After` and `code: rate_limited`, answered without argon2), the show keeps being
pressed and served while the flood runs, and the moderator's right password logs in once the
flood ends and `Retry-After` has passed. Timings under the flood are measured by
`bench/login_flood.py`, never asserted here.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx

from app.api.relay import CLIENT_HEADER, RELAY_HEADER, relay_credential
from app.config import Settings
from tests.conftest import PASSWORD, running_api

CLIENTS = 16
ATTEMPTS_EACH = 3


async def flood(url: str, *, user: str, spoof: bool = False) -> list[httpx.Response]:
    counter = itertools.count()

    async def client() -> list[httpx.Response]:
        answers = []
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for _ in range(ATTEMPTS_EACH):
                headers = {"X-Forwarded-For": f"203.0.113.{next(counter) % 250}"} if spoof else {}
                answers.append(
                    await http.post(
                        "/api/v1/auth/token",
                        data={"username": user, "password": "wrong password"},
                        headers=headers,
                    )
                )
        return answers

    results = await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return [answer for answers in results for answer in answers]


def settings(url: str, window: int = 60, **overrides: Any) -> Settings:
    # The window outlasts the flood even on a loaded machine, where one argon2 verify takes 0.5 s.
    return Settings(database_url=url, api_login_window_seconds=window, **overrides)


async def test_a_login_flood_is_refused_before_hashing_and_the_show_goes_on(seeded_sqlite_url: str) -> None:
    async with running_api(settings(seeded_sqlite_url, window=15)) as api:
        live = await api.live()
        token = await api.token("moderator2")  # logged in before the flood
        flooding = asyncio.create_task(flood(api.url, user="moderator"))
        # While the flood runs, a moderator presses and a viewer reads: both are answered.
        pressed = await api.client.post(
            "/api/v1/events/diner-elus-entreprises-2020/control",
            json={"action": "start", "expected_version": live["version"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        during = await api.live()
        answers = await flooding

        assert pressed.status_code == 200, pressed.text
        assert during["version"] == live["version"] + 1
        statuses = Counter(answer.status_code for answer in answers)
        # Five wrong passwords were checked (the limit per user name and address); the 43 others
        # were refused without spending argon2 on them.
        assert statuses == {401: 5, 429: CLIENTS * ATTEMPTS_EACH - 5}
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert refused.json() == {
            "detail": refused.json()["detail"],
            "code": "rate_limited",
        }
        assert refused.json()["detail"].startswith("Too many login attempts: try again in ")
        assert 1 <= int(refused.headers["Retry-After"]) <= 15

        # Right password, during the window: refused as well (a throttle that still answered
        # guesses would protect nothing).
        right = {"username": "moderator", "password": PASSWORD}
        again = await api.client.post("/api/v1/auth/token", data=right)
        assert again.status_code == 429
        await asyncio.sleep(int(again.headers["Retry-After"]) + 0.2)
        after = await api.client.post("/api/v1/auth/token", data=right)
        assert after.status_code == 200, after.text
        assert after.json()["token_type"] == "bearer"


async def test_rotating_x_forwarded_for_does_not_escape_the_throttle(seeded_sqlite_url: str) -> None:
    async with running_api(settings(seeded_sqlite_url)) as api:
        answers = await flood(api.url, user="admin", spoof=True)
        statuses = Counter(answer.status_code for answer in answers)
        # 48 attempts from 48 "addresses": all counted against 127.0.0.1, the socket's address.
        assert statuses == {401: 5, 429: CLIENTS * ATTEMPTS_EACH - 5}


async def test_a_trusted_proxy_names_the_client(seeded_sqlite_url: str) -> None:
    """Behind a proxy named in REGIE_TRUSTED_PROXIES, each client is throttled on its own."""
    async with running_api(settings(seeded_sqlite_url, trusted_proxies=["127.0.0.1"])) as api:
        for address in ("198.51.100.1", "198.51.100.2"):
            statuses = [
                (
                    await api.client.post(
                        "/api/v1/auth/token",
                        data={"username": "admin", "password": "wrong password"},
                        headers={"X-Forwarded-For": address},
                    )
                ).status_code
                for _ in range(6)
            ]
            assert statuses == [401] * 5 + [429]


def test_trusted_proxies_are_read_comma_separated(monkeypatch: Any) -> None:
    monkeypatch.setenv("REGIE_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8")
    assert Settings().trusted_proxies == ["10.0.0.1", "10.0.0.0/8"]
    monkeypatch.delenv("REGIE_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []


async def test_an_over_long_user_name_is_refused_by_name(api: Any) -> None:
    response = await api.client.post("/api/v1/auth/token", data={"username": "a" * 5000, "password": "x"})
    assert response.status_code == 422
    assert "username" in response.json()["detail"]
    assert "a" * 200 not in response.text


async def test_the_frontend_relays_each_moderators_address_and_nobody_else_can(
    seeded_sqlite_url: str,
) -> None:
    """Logins through the pages all come from the frontend's address: with the relay credential
    each browser is counted on its own; without it, `X-Regie-Client` is ignored."""
    configured = settings(seeded_sqlite_url)
    relay = relay_credential(configured.secret_key.get_secret_value())

    async def attempts(headers: dict[str, str]) -> list[int]:
        return [
            (
                await api.client.post(
                    "/api/v1/auth/token", data={"username": "admin", "password": "wrong"}, headers=headers
                )
            ).status_code
            for _ in range(6)
        ]

    async with running_api(configured) as api:
        for address in ("198.51.100.1", "198.51.100.2"):
            assert await attempts({RELAY_HEADER: relay, CLIENT_HEADER: address}) == [401] * 5 + [429]
        assert await attempts({RELAY_HEADER: "forged", CLIENT_HEADER: "198.51.100.3"}) == [401] * 5 + [429]
        assert await attempts({CLIENT_HEADER: "198.51.100.4"}) == [429] * 6
