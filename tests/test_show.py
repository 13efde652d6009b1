"""The show's state machine on its own: no database, no clock, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.show import (
    Action,
    Command,
    Plan,
    PlannedItem,
    PlannedSegment,
    Run,
    ShowError,
    Status,
    UnknownTarget,
    apply,
    drift_seconds,
    next_item_id,
    segment_times,
)

T0 = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
PLAN = Plan(
    segments=(
        PlannedSegment("s1", T0, T0 + timedelta(hours=1)),
        PlannedSegment("s2", T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
    ),
    items=(
        PlannedItem("a", "s1", T0),
        PlannedItem("b", "s1"),
        PlannedItem("mystery", "s1", mystery=True),
        PlannedItem("c", "s2"),
    ),
)
END = T0 + timedelta(hours=2)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def play(*commands: tuple[str, str | None, float]) -> Run:
    run = Run()
    for action, target, minute in commands:
        run = apply(PLAN, run, Command(Action(action), target), at=at(minute)).run
    return run


def test_start_puts_the_first_item_on_air_and_counts_one_version() -> None:
    step = apply(PLAN, Run(), Command(Action.START), at=at(2))
    assert step.run.status is Status.LIVE
    assert step.run.version == 1
    assert step.run.current == "a"
    assert step.run.started_at == at(2)
    assert step.entry.version == 1 and step.entry.item_id == "a" and step.entry.segment_id == "s1"
    assert drift_seconds(PLAN, step.run, show_planned_end=END) == 120


def test_next_crosses_into_the_next_segment_and_closes_the_last_one() -> None:
    run = play(("start", None, 0), ("next", None, 10), ("next", None, 20), ("next", None, 61))
    assert run.current == "c"
    assert segment_times(PLAN, run, "s1") == (at(0), at(61))
    assert segment_times(PLAN, run, "s2") == (at(61), None)
    assert run.item_ends["b"] == at(20)
    # c has no planned time of its own: the drift is its segment's, which started 1 min late.
    assert drift_seconds(PLAN, run, show_planned_end=END) == 60


def test_previous_undoes_a_mistaken_next() -> None:
    run = play(("start", None, 0), ("next", None, 10), ("previous", None, 10.5))
    assert run.current == "a"
    assert "b" not in run.item_starts and "b" not in run.item_ends
    assert run.item_starts["a"] == at(0) and "a" not in run.item_ends
    assert run.version == 3


def test_goto_leaves_skipped_items_unplayed_and_going_back_keeps_the_first_start() -> None:
    run = play(("start", None, 0), ("goto", "c", 5), ("goto", "a", 70))
    assert "b" not in run.item_starts
    assert run.item_starts["a"] == at(0) and "a" not in run.item_ends
    assert run.item_ends["c"] == at(70)
    assert segment_times(PLAN, run, "s2") == (at(5), at(70))


def test_reveal_marks_the_guest_revealed_without_moving_the_show() -> None:
    run = play(("start", None, 0), ("reveal", "mystery", 3))
    assert run.current == "a" and run.revealed == {"mystery": at(3)}


def test_end_closes_the_live_item_and_reports_how_late_the_show_ended() -> None:
    run = play(("start", None, 0), ("end", None, 125))
    assert run.status is Status.ENDED and run.current is None
    assert run.item_ends["a"] == at(125)
    assert drift_seconds(PLAN, run, show_planned_end=END) == 300
    assert next_item_id(PLAN, run) is None


@pytest.mark.parametrize(
    ("history", "command", "message"),
    [
        ((), ("next", None), "has not started"),
        ((("start", None, 0),), ("start", None), "already live"),
        ((("start", None, 0),), ("previous", None), "first item"),
        ((("start", None, 0), ("goto", "c", 1)), ("next", None), "last item"),
        ((("start", None, 0),), ("goto", "a"), "already on air"),
        ((("start", None, 0),), ("reveal", "b"), "not a mystery item"),
        ((("start", None, 0), ("reveal", "mystery", 1)), ("reveal", "mystery"), "already been revealed"),
        ((), ("reveal", "mystery"), "start the show first"),
        ((("start", None, 0), ("end", None, 1)), ("start", None), "has ended"),
        ((("start", None, 0), ("end", None, 1)), ("next", None), "has ended"),
    ],
)
def test_commands_that_do_not_fit_are_refused_with_a_reason(
    history: tuple[tuple[str, str | None, float], ...], command: tuple[str, str | None], message: str
) -> None:
    run = play(*history)
    with pytest.raises(ShowError, match=message):
        apply(PLAN, run, Command(Action(command[0]), command[1]), at=at(30))


def test_an_unknown_target_is_its_own_error() -> None:
    with pytest.raises(UnknownTarget, match="nowhere"):
        apply(PLAN, play(("start", None, 0)), Command(Action.GOTO, "nowhere"), at=at(1))


def test_the_run_survives_a_round_trip_through_its_stored_form() -> None:
    run = play(("start", None, 0), ("next", None, 10), ("reveal", "mystery", 11))
    again = Run.from_json(run.to_json(), status=run.status.value, version=run.version)
    assert again == run


def test_before_the_show_the_opening_item_comes_next() -> None:
    assert next_item_id(PLAN, Run()) == "a"
    assert drift_seconds(PLAN, Run(), show_planned_end=END) == 0
