"""Page views in a burst share one API read."""

from __future__ import annotations

import asyncio

import pytest

from frontend.sharing import Recent, SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    calls = 0

    async def read() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return "programme"

    flight: SingleFlight[str, str] = SingleFlight()
    answers = await asyncio.gather(*(flight.run("diner", read) for _ in range(20)))
    assert (answers, calls) == (["programme"] * 20, 1)
    await flight.run("diner", read)
    assert calls == 2  # a call that ended is not reused


async def test_a_failed_call_fails_every_waiter_and_is_retried_next_time() -> None:
    async def broken() -> str:
        await asyncio.sleep(0.01)
        raise ConnectionError("backend down")

    flight: SingleFlight[str, str] = SingleFlight()
    results = await asyncio.gather(*(flight.run("k", broken) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    with pytest.raises(ConnectionError):
        await flight.run("k", broken)


async def test_recent_values_expire() -> None:
    now = 0.0
    values = iter(["first", "second"])

    async def read() -> str:
        return next(values)

    recent: Recent[str] = Recent(ttl=10, clock=lambda: now)
    assert await recent.get(read) == "first"
    now = 9.9
    assert await recent.get(read) == "first"
    now = 10.1
    assert await recent.get(read) == "second"
