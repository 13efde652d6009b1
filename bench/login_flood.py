"""`python -m bench.login_flood`: does a flood of wrong passwords stall the show?

On a fresh `regie api` (its own process, SQLite, as `bench/servers.py` starts it), measures twice —
idle, then while 16 clients post wrong passwords to `POST /api/v1/auth/token` — the two things a
live show needs from that process:

- `GET /api/v1/events/{slug}/live` answered to one sequential reader (p50 / p99 over `--seconds`);
- press → viewer: the time from just before a moderator's `POST …/control` is sent to the new
  version's arrival on a WebSocket viewer (`--presses` presses, 0.3 s apart).

The flood runs in its own process with bare asyncio connections (keep-alive, one request in
flight each), so the load generator costs less than the server it loads. `--pace` is each flood
client's attempts per second (0: as fast as it is answered). The target is the issue's: under
the flood, both figures within 2× of idle. Run it on a checkout of an older commit to get the
"before" figures (the script only needs `app.cli` and the bench helpers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from typing import cast

import httpx
import websockets

from bench.servers import SLUG, Moderator, workspace

FLOOD_CLIENTS = 16


class _Poster(asyncio.Protocol):
    """Posts the same wrong login again when the previous answer is complete (or on `pace`)."""

    def __init__(self, request: bytes, stop_at: float, pace: float, statuses: dict[str, int]) -> None:
        self._request, self._stop_at, self._pace, self._statuses = request, stop_at, pace, statuses
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def _send(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end]).lower()
            marker = head.find(b"content-length:")
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
            if len(self._buffer) < end + 4 + length:
                return
            del self._buffer[: end + 4 + length]
            status = head[9:12].decode()
            self._statuses[status] = self._statuses.get(status, 0) + 1
            assert self._transport is not None
            if time.time() >= self._stop_at:
                self._transport.close()
                return
            if self._pace:
                asyncio.get_running_loop().call_later(1 / self._pace, self._send)
            else:
                self._send()


async def _flood(port: int, seconds: float, pace: float) -> dict[str, int]:
    body = b"username=bench-moderator&password=wrong-password"
    request = (
        f"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    statuses: dict[str, int] = {}
    stop_at = time.time() + seconds
    posters = []
    for _ in range(FLOOD_CLIENTS):
        _, poster = await loop.create_connection(
            lambda: _Poster(request, stop_at, pace, statuses), "127.0.0.1", port
        )
        posters.append(poster)
    await asyncio.wait_for(asyncio.gather(*(p.closed for p in posters)), seconds + 120)
    return statuses


def _flood_process(port: int, seconds: float, pace: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_flood(port, seconds, pace)))


def _live_latencies(url: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            client.get(f"/api/v1/events/{SLUG}/live").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    return latencies


async def _press_latencies(moderator: Moderator, ws_url: str, presses: int) -> list[float]:
    latencies = []
    async with websockets.connect(ws_url, compression=None) as viewer:
        await viewer.recv()
        for _ in range(presses):
            version, at = await asyncio.to_thread(moderator.press)
            while True:
                message = json.loads(await viewer.recv())
                if message.get("live", {}).get("version") == version:
                    latencies.append(time.time() - at)
                    break
            await asyncio.sleep(0.3)
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _row(name: str, live: list[float], presses: list[float]) -> str:
    return (
        f"| {name} | {statistics.median(live) * 1000:.1f} ms | {_percentile(live, 0.99) * 1000:.1f} ms "
        f"| {statistics.median(presses) * 1000:.1f} ms | {max(presses) * 1000:.1f} ms | {len(live)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="reading time per phase")
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--pace", type=float, default=0.0, help="attempts/s per flood client (0: flat out)")
    args = parser.parse_args()
    with workspace() as space:
        api = space.start_api()
        moderator = Moderator(api)
        ws_url = api.url.replace("http://", "ws://") + f"/api/v1/events/{SLUG}/live/ws"
        _live_latencies(api.url, 1.0)  # warm-up
        idle_live = _live_latencies(api.url, args.seconds)
        idle_presses = asyncio.run(_press_latencies(moderator, ws_url, args.presses))

        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        flood_seconds = args.seconds + args.presses * 0.5 + 10
        flooder = context.Process(target=_flood_process, args=(api.port, flood_seconds, args.pace, results))
        flooder.start()
        time.sleep(1.0)  # the flood is under way
        flood_live = _live_latencies(api.url, args.seconds)
        flood_presses = asyncio.run(_press_latencies(moderator, ws_url, args.presses))
        statuses = results.get(timeout=flood_seconds + 180)
        flooder.join()
    pace = f"{args.pace:g}/s each" if args.pace else "flat out"
    print(f"{FLOOD_CLIENTS} flood clients ({pace}); flood answers: {dict(sorted(statuses.items()))}")
    print("| phase | /live p50 | /live p99 | press → viewer p50 | press → viewer max | reads |")
    print("|---|---:|---:|---:|---:|---:|")
    print(_row("idle", idle_live, idle_presses))
    print(_row("under the flood", flood_live, flood_presses))
    print(
        "ratios under flood ÷ idle: "
        f"/live p50 ×{statistics.median(flood_live) / statistics.median(idle_live):.2f}, "
        f"press → viewer p50 ×{statistics.median(flood_presses) / statistics.median(idle_presses):.2f}"
    )


if __name__ == "__main__":
    main()
