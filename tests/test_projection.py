"""Projected times, as Ontime shows them: a delay carries over until a gap in the plan absorbs it.

First the pure functions of `app.domain.show` on a small plan, then what a client reads: the
live state and the event JSON of a show run on the server's (injected) clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.domain.show import (
    Action,
    Command,
    Plan,
    PlannedItem,
    PlannedSegment,
    Projection,
    Run,
    Stretch,
    apply,
    planned_slots,
    project,
    stretches,
)
from tests.conftest import DINER, SEEDS, Api, migrate, running_api, seed

T0 = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# s1 18:00–19:00 (a timed, b, c), s2 19:00–19:30 (d timed, e, f timed at 19:20),
# a 15-minute break, s3 19:45–19:57 (g), s4 19:57–20:00 (h timed).
PLAN = Plan(
    segments=(
        PlannedSegment("s1", at(0), at(60)),
        PlannedSegment("s2", at(60), at(90)),
        PlannedSegment("s3", at(105), at(117)),
        PlannedSegment("s4", at(117), at(120)),
    ),
    items=(
        PlannedItem("a", "s1", at(0)),
        PlannedItem("b", "s1"),
        PlannedItem("c", "s1", mystery=True),
        PlannedItem("d", "s2", at(60)),
        PlannedItem("e", "s2"),
        PlannedItem("f", "s2", at(80)),
        PlannedItem("g", "s3"),
        PlannedItem("h", "s4", at(117)),
    ),
)
END = at(120)


def play(*commands: tuple[str, float]) -> Run:
    run = Run()
    for action, minute in commands:
        run = apply(PLAN, run, Command(Action(action)), at=at(minute)).run
    return run


def test_stretches_cut_the_plan_at_every_planned_time() -> None:
    assert stretches(PLAN) == (
        Stretch("s1", at(0), at(60), ("a", "b", "c")),
        Stretch("s2", at(60), at(80), ("d", "e")),
        Stretch("s2", at(80), at(90), ("f",)),
        Stretch("s3", at(105), at(117), ("g",)),
        Stretch("s4", at(117), at(120), ("h",)),
    )


def test_estimated_slots_share_a_stretch_evenly_on_whole_minutes() -> None:
    slots = planned_slots(PLAN)
    assert slots["a"] == (at(0), at(20))
    assert slots["b"] == (at(20), at(40))
    assert slots["c"] == (at(40), at(60))
    assert slots["d"] == (at(60), at(70)) and slots["e"] == (at(70), at(80))
    assert slots["f"] == (at(80), at(90))
    assert slots["g"] == (at(105), at(117))
    odd = Plan(
        segments=(PlannedSegment("s", at(0), at(10)),), items=tuple(PlannedItem(x, "s") for x in "xyz")
    )
    assert [planned_slots(odd)[x] for x in "xyz"] == [(at(0), at(3)), (at(3), at(6)), (at(6), at(10))]


def test_on_time_the_projection_is_the_plan() -> None:
    run = play(("start", 0), ("next", 10))
    assert project(PLAN, run, now=at(15), show_planned_end=END) == Projection(
        item_starts={"d": at(60), "f": at(80), "h": at(117)},
        segment_starts={"s2": at(60), "s3": at(105), "s4": at(117)},
        segment_ends={"s1": at(60), "s2": at(90), "s3": at(117), "s4": at(120)},
        show_end=END,
    )


def test_a_late_start_carries_over_until_the_break_absorbs_it() -> None:
    run = play(("start", 10))  # ten minutes late
    projection = project(PLAN, run, now=at(12), show_planned_end=END)
    assert projection.segment_ends["s1"] == at(70)
    assert projection.segment_starts["s2"] == at(70)
    assert projection.item_starts == {"d": at(70), "f": at(90), "h": at(117)}
    assert projection.segment_ends["s2"] == at(100)
    # The 15-minute break before s3 swallows the 10 minutes: from s3 on, the plan holds.
    assert projection.segment_starts["s3"] == at(105)
    assert projection.show_end == END


def test_a_bigger_delay_gets_through_the_break_and_moves_the_end_of_the_show() -> None:
    run = play(("start", 0), ("next", 5), ("next", 10), ("next", 81))  # s1 overran by 21 min
    projection = project(PLAN, run, now=at(82), show_planned_end=END)
    # s2 ends 21 minutes late; the break absorbs 15 of them, and 6 reach the end of the show.
    assert projection.segment_starts == {"s3": at(111), "s4": at(123)}  # s2 has started: not projected
    assert projection.item_starts == {"f": at(101), "h": at(123)}
    assert projection.segment_ends == {"s2": at(111), "s3": at(123), "s4": at(126)}
    assert projection.show_end == at(126)


def test_an_overrun_pushes_what_follows_while_it_lasts() -> None:
    run = play(("start", 0), ("next", 30), ("next", 50))  # on time, but c is still on air…
    assert project(PLAN, run, now=at(59), show_planned_end=END).segment_starts["s2"] == at(60)
    late = project(PLAN, run, now=at(64), show_planned_end=END)  # …four minutes past the plan
    assert late.segment_ends["s1"] == at(64)
    assert late.segment_starts["s2"] == at(64) and late.item_starts["d"] == at(64)
    assert project(PLAN, run, now=at(68), show_planned_end=END).item_starts["d"] == at(68)


def test_running_early_never_projects_earlier_than_planned() -> None:
    run = play(("start", 0), ("next", 1), ("next", 2), ("next", 40))  # s2 started 20 minutes early
    projection = project(PLAN, run, now=at(41), show_planned_end=END)
    assert projection.item_starts["f"] == at(80)
    assert projection.segment_starts["s3"] == at(105)
    assert projection.show_end == END


def test_a_timed_item_inside_a_segment_is_projected_on_its_own() -> None:
    run = play(("start", 0), ("next", 1), ("next", 2), ("next", 65))  # d five minutes late
    projection = project(PLAN, run, now=at(66), show_planned_end=END)
    assert projection.item_starts["f"] == at(85)
    assert projection.segment_ends["s2"] == at(95)


def test_projected_times_are_whole_seconds() -> None:
    run = apply(
        PLAN, Run(), Command(Action.START), at=at(0) + timedelta(seconds=61, microseconds=600_000)
    ).run
    projection = project(PLAN, run, now=at(2), show_planned_end=END)
    assert projection.segment_starts["s2"] == at(61) + timedelta(seconds=2)


def test_nothing_is_projected_before_the_show_or_after_it() -> None:
    assert project(PLAN, Run(), now=at(30), show_planned_end=END) == Projection()
    ended = play(("start", 0), ("end", 100))
    assert project(PLAN, ended, now=at(130), show_planned_end=END) == Projection()


# --- What a client reads -------------------------------------------------------------------


class Clock:
    """The server's clock, set by the test: the show happens on its own 2020 evening."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def clocked_api(url: str, *programmes: Path, now: datetime) -> AsyncIterator[tuple[Api, Clock]]:
    """A real backend whose clock the test sets, with these programmes and the three users."""
    await migrate(url)
    await seed(url, *programmes)
    clock = Clock(now)
    async with running_api(Settings(database_url=url), clock=clock) as api:
        yield api, clock


DINER_FILE = next(path for path in SEEDS if path.stem == DINER)


@pytest.fixture
async def clocked(sqlite_url: str) -> AsyncIterator[tuple[Api, Clock]]:
    async with clocked_api(sqlite_url, DINER_FILE, now=datetime(2020, 11, 23, 17, 55, tzinfo=UTC)) as running:
        yield running


def z(moment: str) -> str:
    return f"2020-11-23T{moment}Z"


def by_id(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    segments = {s["id"]: s for s in event["segments"]}
    items = {i["id"]: i for s in event["segments"] for i in s["items"]}
    return segments, items


async def test_the_live_state_and_the_programme_show_a_late_start_carried_to_the_end(
    clocked: tuple[Api, Clock],
) -> None:
    api, clock = clocked
    before = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    assert before["projected_end"] is None
    assert all(s["projected_start"] is None for s in before["segments"])

    clock.now = datetime(2020, 11, 23, 18, 7, tzinfo=UTC)  # 19:07 in Paris: seven minutes late
    assert (await api.control("start", 0)).status_code == 200
    live = await api.live()
    assert live["projected_end"] == z("20:07:00")
    assert live["segment"]["projected_end"] == z("19:07:00")
    assert live["item"]["projected_start"] is None  # on air: it has its actual start

    event = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    segments, items = by_id(event)
    assert [segments[s]["projected_start"] for s in segments] == [
        None,
        z("19:07:00"),
        z("19:47:00"),
        z("20:04:00"),
    ]
    assert segments["mots-de-la-suite"]["projected_end"] == z("20:07:00")
    assert items["enseignements-experimentations"]["projected_start"] == z("19:07:00")
    assert items["cloture-ministre"]["projected_start"] == z("20:04:00")
    # Untimed items follow their segment: no time of their own to project.
    assert items["invite-mystere-2"]["projected_start"] is None
    assert event["projected_end"] == z("20:07:00")


async def test_an_overrun_moves_the_projection_with_the_server_clock(clocked: tuple[Api, Clock]) -> None:
    api, clock = clocked
    clock.now = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    assert (await api.control("start", 0)).status_code == 200
    clock.now = datetime(2020, 11, 23, 19, 12, tzinfo=UTC)  # segment 1 still on air at 20:12
    live = await api.live()
    assert live["segment"]["projected_end"] == z("19:12:00")
    assert live["projected_end"] == z("20:12:00")
    clock.now += timedelta(minutes=3)
    assert (await api.live())["projected_end"] == z("20:15:00")

    clock.now = datetime(2020, 11, 23, 20, 30, tzinfo=UTC)
    version = (await api.live())["version"]
    assert (await api.control("end", version)).status_code == 200
    assert (await api.live())["projected_end"] is None
