"""What the live page and the console say about the show against its plan: one headline for
both, a show started on another day measured against its real start, past dates not imminent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

import programme_samples as samples
from html_text import visible_text

from frontend.models import Event, LiveState
from frontend.presenter import ShowView, show_view
from frontend.render import Renderer

renderer = Renderer()
API = "https://api.example.org"
# The sample programme: 23 November 2020, 19 h 00 – 21 h 00 in Paris (18:00–20:00 UTC).
PLANNED = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)


def view(
    *, started: datetime | None, now: datetime, drift: float = 0, status: str = "live", item: int = 0
) -> ShowView:
    event = Event.model_validate(samples.programme())
    items = event.items
    live = LiveState(
        event=samples.SLUG,
        version=3,
        status=status,
        server_time=now,
        started_at=started,
        segment=event.segments[0] if status == "live" else None,
        item=items[item] if status == "live" else None,
        next_item=items[item + 1] if status == "live" else items[0],
        drift_seconds=drift,
    )
    return show_view(event, live)


def texts(shown: ShowView) -> tuple[str, str]:
    live = renderer.page("live.html", {"view": shown, "related": [], "api_url": API})
    return visible_text(live, "live-status"), visible_text(renderer.console_fragments(shown), "console-state")


def test_a_show_started_on_another_day_says_so_and_counts_no_days_of_delay() -> None:
    started = datetime(2026, 11, 30, 23, 27, tzinfo=UTC)  # 1 December, 0 h 27 in Paris
    drift = (started - PLANNED).total_seconds()
    moved = view(started=started, now=started + timedelta(minutes=3), drift=drift)
    live, console = texts(moved)
    assert "Direct commencé le 1er décembre au lieu du 23 novembre 2020" in live
    assert "Le direct est à l'heure." in live
    assert "Fin prévue à 2 h 27" in live
    assert "Direct commencé le 1er décembre au lieu du 23 novembre 2020" in console and "À l'heure" in console
    page = renderer.page("live.html", {"view": moved, "related": [], "api_url": API})
    assert " j " not in visible_text(page) and "retard" not in visible_text(page)
    # The header still gives the programme's own date.
    assert "lundi 23 novembre 2020, 19 h 00 – 21 h 00" in visible_text(page)


def test_a_late_start_on_its_own_day_is_a_delay_in_french() -> None:
    started = PLANNED + timedelta(minutes=4)
    live, console = texts(view(started=started, now=started + timedelta(minutes=1), drift=240))
    assert "Le direct a 4 min de retard." in live
    assert "4 min de retard" in console


def test_past_its_planned_end_the_page_and_the_console_agree() -> None:
    started = PLANNED
    shown = view(started=started, now=PLANNED + timedelta(hours=2, minutes=1, seconds=25), item=1)
    live, console = texts(shown)
    assert "Le direct dépasse sa fin prévue à 21 h 00." in live
    assert "à l'heure" not in live.lower()
    assert "Au-delà de la fin prévue (21 h 00)" in console
    assert "à l'heure" not in console.lower()


def test_a_past_date_never_reads_imminent() -> None:
    shown = view(started=None, now=datetime(2026, 12, 1, tzinfo=UTC), status="scheduled")
    live, _ = texts(shown)
    assert "Prévu le lundi 23 novembre 2020 à 19 h 00 : cette date est passée" in live
    page = renderer.page("live.html", {"view": shown, "related": [], "api_url": API})
    assert "data-countdown" not in page
    soon = view(started=None, now=PLANNED - timedelta(minutes=5), status="scheduled")
    assert "data-countdown" in renderer.page("live.html", {"view": soon, "related": [], "api_url": API})


def test_a_title_that_holds_guillemets_is_not_quoted_twice() -> None:
    from frontend.formatting import quoted

    assert quoted("Accueil") == "« Accueil »"
    assert (
        quoted("« L'alliance dynamique » incarnée localement")
        == "“« L'alliance dynamique » incarnée localement”"
    )
    programme = samples.programme()
    programme["segments"][0]["items"][2]["title"] = "« L'alliance dynamique » incarnée localement"
    event = Event.model_validate(programme)
    items = event.items
    live = LiveState(
        event=samples.SLUG, version=3, status="live", server_time=PLANNED, started_at=PLANNED,
        segment=event.segments[0], item=items[2], next_item=items[3],
    )  # fmt: skip
    html = unescape(renderer.console_fragments(show_view(event, live)))
    assert "« «" not in html and "» »" not in html
    assert "l'invité mystère de “« L'alliance dynamique » incarnée localement” ?" in html


def test_an_organiser_repeated_as_subtitle_is_shown_once() -> None:
    programme = samples.programme()
    programme["organiser"] = programme["subtitle"] = "Plateforme « l'innovation territoriale en actions ! »"
    event = Event.model_validate(programme)
    live = LiveState(event=samples.SLUG, version=1, status="scheduled", server_time=PLANNED)
    html = renderer.page("live.html", {"view": show_view(event, live), "related": [], "api_url": API})
    assert visible_text(html).count("Plateforme « l'innovation territoriale en actions ! »") == 1
