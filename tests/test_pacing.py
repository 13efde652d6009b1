"""The question list's pace: every second to a normal audience, less often when it costs more."""

from __future__ import annotations

from fanout.pacing import side_interval


def test_a_list_goes_every_second_to_a_normal_audience() -> None:
    assert side_interval(5_000, 300) == 1.0  # 1.5 MB a second: within the budget
    assert side_interval(500, 5_000) == 1.0


def test_a_large_list_to_a_large_audience_goes_less_often_and_never_rarer_than_every_10_s() -> None:
    assert side_interval(5_000, 10_000) == 10.0  # 50 MB per list: capped
    assert side_interval(2_000, 10_000) == 5.0  # 20 MB per list, 4 MB a second
    assert side_interval(100_000, 100_000) == 10.0
