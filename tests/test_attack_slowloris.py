"""Attack: slowloris. 1,100 connections that send part of a request's headers and then nothing,
against `regie up` limited to 1,024 open files (its API and its pages in one process).

What holds: each half-open connection is answered 408 and closed after the header deadline
(10 s), so the descriptors come back and the API and the pages answer again while the attacker
still holds its sockets; and "Too many open files" is logged at most once a minute, not once per
failed accept.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, regie_env, regie_server

HALF_OPEN = 1_100
PARTIAL_REQUEST = b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def test_half_open_connections_time_out_and_the_server_answers_again(tmp_path: Path) -> None:
    api_port, web_port = free_port(), free_port()
    env = regie_env(
        REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'regie.db'}",
        REGIE_SECRET_KEY="slowloris-test-key",
    )
    log = tmp_path / "up.log"
    with regie_server(
        "up",
        "--api-port",
        str(api_port),
        "--web-port",
        str(web_port),
        env=env,
        health=f"http://127.0.0.1:{api_port}/healthz",
        log=log,
        preexec_fn=_limit_open_files,
    ):
        attackers: list[socket.socket] = []
        try:
            for _ in range(HALF_OPEN):
                sock = socket.socket()
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", api_port))
                attackers.append(sock)
            time.sleep(1.0)
            for sock in attackers:
                with contextlib.suppress(OSError):
                    sock.send(PARTIAL_REQUEST)
            attacked_at = time.monotonic()

            # The attacker holds every socket open; the server must free them itself.
            api = _answered_within(f"http://127.0.0.1:{api_port}/api/v1/events", seconds=45)
            pages = _answered_within(f"http://127.0.0.1:{web_port}/", seconds=15)
            recovered_after = time.monotonic() - attacked_at
            timed_out = _408s(attackers)
        finally:
            for sock in attackers:
                sock.close()

    assert api == 200, f"the API did not answer within 45 s of the attack ({api})"
    assert pages == 200
    assert recovered_after < 45
    # The half-open connections the server had accepted were told why they were closed.
    assert timed_out >= 900, timed_out
    text = log.read_text(errors="replace")
    print(
        f"answered again {recovered_after:.1f} s after the attack; {timed_out} connections got a 408; "
        f"« Too many open files » logged {text.count('Too many open files')} time(s)"
    )
    assert text.count("Too many open files") <= 2, text.count("Too many open files")
    assert "Traceback" not in text


def _answered_within(url: str, *, seconds: float) -> int | str:
    deadline = time.monotonic() + seconds
    outcome: int | str = "no answer"
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=5).status_code
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        time.sleep(0.5)
    return outcome


def _408s(sockets: list[socket.socket]) -> int:
    count = 0
    for sock in sockets:
        sock.setblocking(True)
        sock.settimeout(0.01)
        with contextlib.suppress(OSError):
            if sock.recv(64).startswith(b"HTTP/1.1 408"):
                count += 1
    return count
