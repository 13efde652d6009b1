"""A restart does not wait on viewers: SIGTERM ends the live streams, and the servers exit.

uvicorn waits for every open response before it exits, and a server-sent event stream never
ends by itself: without care, one viewer on the SSE fallback keeps `regie web` (or `regie up`)
from stopping until its process manager kills it. These run the real command lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import DINER, free_port, regie_env, regie_server

# Well past the servers' own grace (app.cli.serve.SHUTDOWN_GRACE_SECONDS, 5 s): a hang, not a pace.
EXIT_BOUND_SECONDS = 20


@pytest.fixture
def env(seeded_sqlite_url: str) -> dict[str, str]:
    return regie_env(
        REGIE_DATABASE_URL=seeded_sqlite_url, REGIE_SECRET_KEY="shutdown-tests-secret-key-0123456789"
    )


async def _streams_end_on_sigterm(
    processes: list[subprocess.Popen[bytes]], streams: list[str], socket: str
) -> None:
    """Open every stream and one live WebSocket, send SIGTERM, and see each stream end."""

    async def read_until_end(client: httpx.AsyncClient, url: str, opened: asyncio.Event) -> bytes:
        async with client.stream("GET", url) as response:
            assert response.status_code == 200, url
            assert response.headers["content-type"].startswith("text/event-stream")
            received = b""
            # sse-starlette cancels its streams on shutdown, without a last chunk: the client sees
            # the connection end, and an EventSource comes back after its `retry`.
            with contextlib.suppress(httpx.RemoteProtocolError):
                async for chunk in response.aiter_bytes():
                    received += chunk
                    opened.set()
            return received

    async with httpx.AsyncClient(timeout=None) as client, websockets.connect(socket) as live:
        await asyncio.wait_for(live.recv(), 10)
        opened = [asyncio.Event() for _ in streams]
        readers = [
            asyncio.create_task(read_until_end(client, url, o))
            for url, o in zip(streams, opened, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 10)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        received = await asyncio.wait_for(asyncio.gather(*readers), EXIT_BOUND_SECONDS)
    assert all(b"data:" in body or b"retry:" in body for body in received)
    for process in processes:
        # uvicorn re-raises the signal it caught once it has shut down: a clean SIGTERM exit.
        assert process.wait(EXIT_BOUND_SECONDS) in (0, -signal.SIGTERM)


def test_regie_up_stops_with_viewers_on_both_streams(env: dict[str, str], tmp_path: Path) -> None:
    api_port, web_port = free_port(), free_port()
    api, web = f"127.0.0.1:{api_port}", f"127.0.0.1:{web_port}"
    with regie_server(
        "up", "--api-port", str(api_port), "--web-port", str(web_port),
        env=env, health=f"http://{web}/login", log=tmp_path / "up.log",
    ) as process:  # fmt: skip
        asyncio.run(
            _streams_end_on_sigterm(
                [process],
                [f"http://{api}/api/v1/events/{DINER}/live/sse", f"http://{web}/events/{DINER}/sse"],
                f"ws://{web}/events/{DINER}/ws",
            )
        )


def test_regie_api_and_regie_web_stop_with_viewers_on_their_streams(
    env: dict[str, str], tmp_path: Path
) -> None:
    api_port, web_port = free_port(), free_port()
    api, web = f"127.0.0.1:{api_port}", f"127.0.0.1:{web_port}"
    env = {**env, "REGIE_API_URL": f"http://{api}"}
    with (
        regie_server(
            "api", "--port", str(api_port), env=env, health=f"http://{api}/healthz", log=tmp_path / "api.log"
        ) as backend,
        regie_server(
            "web", "--port", str(web_port), env=env, health=f"http://{web}/login", log=tmp_path / "web.log"
        ) as frontend,
    ):
        asyncio.run(
            _streams_end_on_sigterm(
                [frontend, backend],
                [f"http://{api}/api/v1/events/{DINER}/live/sse", f"http://{web}/events/{DINER}/sse"],
                f"ws://{web}/events/{DINER}/ws",
            )
        )
