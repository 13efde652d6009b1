"""What the API answered 200 to survives a kill -9 of the server."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.conftest import DINER, PASSWORD, free_port, regie_env, regie_server


def test_a_killed_server_restarts_on_the_same_live_state_and_timeline(
    seeded_sqlite_url: str, tmp_path: Path
) -> None:
    env = regie_env(REGIE_DATABASE_URL=seeded_sqlite_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("api", "--port", str(port))
    with regie_server(*args, env=env, health=f"{url}/healthz", log=tmp_path / "api.log") as process:
        token = httpx.post(
            f"{url}/api/v1/auth/token", data={"username": "moderator", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for version, (action, target) in enumerate(
            [("start", None), ("next", None), ("reveal", "invite-mystere-1"), ("next", None)]
        ):
            response = httpx.post(
                f"{url}/api/v1/events/{DINER}/control",
                json={"action": action, "expected_version": version, "target": target},
                headers=headers,
            )
            assert response.status_code == 200
        live_before = httpx.get(f"{url}/api/v1/events/{DINER}/live").json()
        timeline_before = httpx.get(f"{url}/api/v1/events/{DINER}/timeline").json()
        process.send_signal(signal.SIGKILL)
        process.wait()

    with regie_server(*args, env=env, health=f"{url}/healthz", log=tmp_path / "api.log"):
        live_after = httpx.get(f"{url}/api/v1/events/{DINER}/live").json()
        timeline_after = httpx.get(f"{url}/api/v1/events/{DINER}/timeline").json()
        # The token survived too: the moderator carries on where they were.
        response = httpx.post(
            f"{url}/api/v1/events/{DINER}/control",
            json={"action": "next", "expected_version": 4},
            headers=headers,
        )
        assert response.status_code == 200

    assert timeline_after == timeline_before
    assert len(timeline_after) == 4
    assert {k: v for k, v in live_after.items() if k != "server_time"} == {
        k: v for k, v in live_before.items() if k != "server_time"
    }
    assert live_after["version"] == 4
