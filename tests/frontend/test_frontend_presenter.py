"""The running order's past / live / coming, and the replay's chapters, from API data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import programme_samples as samples

from frontend.models import Event, LiveState, TimelineEntry, VideoChapter
from frontend.presenter import as_played, replay_kind, show_view, youtube_at


def live(status: str, item: str | None, next_item: str | None, version: int = 3) -> LiveState:
    event = Event.model_validate(samples.programme())
    by_id = {i.id: i for i in event.items}
    return LiveState(
        event=samples.SLUG,
        version=version,
        status=status,
        server_time=datetime(2020, 11, 23, 18, 30, tzinfo=UTC),
        item=by_id[item] if item else None,
        next_item=by_id[next_item] if next_item else None,
    )


def started(programme: dict[str, Any], *ids: str) -> Event:
    for segment in programme["segments"]:
        for item in segment["items"]:
            if item["id"] in ids:
                item["actual_start"] = "2020-11-23T18:05:00Z"
    return Event.model_validate(programme)


def states(event: Event, state: LiveState) -> dict[str, str]:
    view = show_view(event, state)
    return {row.item.id: row.state for segment in view.segments for row in segment.items}


def test_before_the_show_everything_is_coming() -> None:
    event = Event.model_validate(samples.programme())
    assert set(states(event, live("scheduled", None, "accueil")).values()) == {"coming"}


def test_during_the_show_past_live_and_coming_follow_the_live_item() -> None:
    event = started(samples.programme(), "accueil", "etude")
    view = show_view(event, live("live", "etude", "mystere"))
    assert states(event, live("live", "etude", "mystere")) == {
        "accueil": "past",
        "etude": "live",
        "mystere": "coming",
        "mot-de-la-fin": "coming",
    }
    assert [segment.state for segment in view.segments] == ["live", "coming"]
    assert [row.is_next for row in view.segments[0].items] == [False, False, True]


def test_an_item_jumped_over_is_marked_as_not_presented() -> None:
    event = started(samples.programme(), "accueil", "mot-de-la-fin")
    assert states(event, live("live", "mot-de-la-fin", None))["etude"] == "skipped"


def test_after_the_show_nothing_is_live() -> None:
    event = started(samples.programme(), "accueil", "etude", "mystere", "mot-de-la-fin")
    assert set(states(event, live("ended", None, None)).values()) == {"past"}


def test_only_revealed_mysteries_are_guests() -> None:
    programme = samples.programme()
    event = Event.model_validate(programme)
    assert show_view(event, live("live", "mystere", None)).guests == ()
    programme["segments"][0]["items"][2].update(
        revealed=True, speakers=samples.HIDDEN["mystere"]["speakers"], announcement="Annonce"
    )
    guests = show_view(Event.model_validate(programme), live("live", "mystere", None)).guests
    assert [guest.speakers[0].name for guest in guests] == [samples.CANARY_NAME]


def test_rows_take_actual_times_from_the_timeline_and_offsets_from_the_apis_chapters() -> None:
    event = Event.model_validate(samples.programme())
    timeline = [
        TimelineEntry(
            version=2,
            at=datetime(2020, 11, 23, 18, 3, tzinfo=UTC),
            action="start",
            segment_id="ouverture",
            item_id="accueil",
            offset_seconds=0,
        ),
        TimelineEntry(
            version=3,
            at=datetime(2020, 11, 23, 18, 20, tzinfo=UTC),
            action="next",
            segment_id="ouverture",
            item_id="etude",
            offset_seconds=1020,
        ),
        TimelineEntry(
            version=4,
            at=datetime(2020, 11, 23, 18, 25, tzinfo=UTC),
            action="reveal",
            segment_id="ouverture",
            item_id="mystere",
            offset_seconds=1320,
        ),
        TimelineEntry(
            version=5,
            at=datetime(2020, 11, 23, 18, 40, tzinfo=UTC),
            action="goto",
            segment_id="cloture",
            item_id="mot-de-la-fin",
            offset_seconds=None,
        ),
    ]
    # As the API cuts them: the étude came back after a slip, the mot de la fin is one chapter.
    video = [
        VideoChapter(start_seconds=0, end_seconds=1020, item_id="accueil", title="Accueil"),
        VideoChapter(start_seconds=1020, end_seconds=2220, item_id="etude", title="L'étude"),
        VideoChapter(start_seconds=2220, end_seconds=2400, item_id="mot-de-la-fin", title="Fin"),
        VideoChapter(start_seconds=2400, end_seconds=2500, item_id="etude", title="L'étude"),
    ]
    rows = as_played(event, timeline, video)
    result = {(r.level, r.title): (r.actual, r.offset_seconds) for r in rows}
    assert result[("segment", "Ouverture")] == (datetime(2020, 11, 23, 18, 3, tzinfo=UTC), 0)
    assert result[("item", "Les résultats de l'étude")] == (datetime(2020, 11, 23, 18, 20, tzinfo=UTC), 1020)
    assert result[("item", "L'engagement du monde académique")] == (None, None)  # a reveal is not a start
    # The jump goes where the recording's chapter starts, whatever the timeline's offset said.
    assert result[("item", "Le mot de la fin")] == (datetime(2020, 11, 23, 18, 40, tzinfo=UTC), 2220)
    assert result[("segment", "Clôture")][1] == 2220
    # Without a chapter (never on air long enough), no jump: the player has nowhere to go.
    assert as_played(event, timeline, [])[0].offset_seconds is None


def test_replay_kinds() -> None:
    assert replay_kind(None) == "none"
    assert replay_kind("https://cdn.example.org/diner.MP4?token=1") == "video"
    assert replay_kind("https://www.youtube.com/watch?v=abc") == "youtube"
    assert replay_kind("https://youtu.be/abc") == "youtube"
    assert replay_kind("https://vimeo.com/123") == "link"
    assert (
        youtube_at("https://www.youtube.com/watch?v=abc", 125.7)
        == "https://www.youtube.com/watch?v=abc&t=125s"
    )
