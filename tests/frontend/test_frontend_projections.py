"""Projected times on every page once the show runs late, kept current while an item overruns;
and states ordered by programme revision, so a reset backend is followed, not ignored."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import programme_samples as samples
from backend import Backend
from html_text import attributes, visible_text
from test_frontend_hub import Browser, running_hub, until, watching
from test_frontend_render import view_at

from app.cli import import_programmes
from app.domain.programme import parse_programme
from frontend.models import Event
from frontend.presenter import show_view
from frontend.render import Renderer

renderer = Renderer()
API = "https://api.example.org"

# Seven minutes late: the closing segment (20 h 00 in Paris) now starts at 20 h 07, the show ends
# at 21 h 07 instead of 21 h 00.
LATE = {
    "end": "2020-11-23T20:07:00Z",
    "segments": {
        "ouverture": ("2020-11-23T18:00:00Z", "2020-11-23T19:07:00Z"),
        "cloture": ("2020-11-23T19:07:00Z", "2020-11-23T20:07:00Z"),
    },
}
# Thirty seconds late is "on time": no projection shown.
ON_TIME = {
    "end": "2020-11-23T20:00:30Z",
    "segments": {
        "ouverture": ("2020-11-23T18:00:00Z", "2020-11-23T19:00:30Z"),
        "cloture": ("2020-11-23T19:00:30Z", "2020-11-23T20:00:30Z"),
    },
}


def with_projections(projections: dict[str, object]) -> Event:
    view = view_at("etude")
    data = view.event.model_dump(mode="json")
    data["projected_end"] = projections["end"]
    for segment in data["segments"]:
        segment["projected_start"], segment["projected_end"] = projections["segments"][segment["id"]]  # type: ignore[index]
    return Event.model_validate(data)


def pages(projections: dict[str, object]) -> tuple[str, str]:
    view = show_view(with_projections(projections), view_at("etude").live)
    live = renderer.page("live.html", {"view": view, "related": [], "api_url": API})
    return live, renderer.console_fragments(view)


def test_a_late_show_shows_projected_starts_and_end_on_the_live_page_and_the_console() -> None:
    live, console = pages(LATE)
    # (visible_text reads the edge of each element as a space: « 21 h 00 , »)
    assert "Fin prévue à 21 h 00 , estimée à 21 h 07" in visible_text(live, "live-status")
    assert "prévu 20 h 00 → 20 h 07 Clôture" in visible_text(live, "live-programme")
    assert "Fin de la séquence estimée à 20 h 07" in visible_text(live, "live-now")
    assert "Fin prévue à 21 h 00 , estimée à 21 h 07" in visible_text(console, "console-state")
    assert "fin estimée à 20 h 07" in visible_text(console, "console-state")
    assert "prévu 20 h 00 → 20 h 07 Clôture" in visible_text(console, "console-programme")


def test_a_show_on_time_shows_its_plan_only() -> None:
    live, console = pages(ON_TIME)
    assert "Fin prévue à 21 h 00" in visible_text(live, "live-status")
    for html in (live, console):
        assert "→" not in visible_text(html)
        assert "estimée" not in visible_text(html)


def test_the_order_of_states_grows_with_projections_within_a_version() -> None:
    late, later = (
        with_projections(LATE),
        with_projections(
            {**LATE, "end": "2020-11-23T20:08:00Z"}  # the overrun goes on: the show ends later still
        ),
    )
    live = view_at("etude").live
    first, second = show_view(late, live), show_view(later, live)
    assert first.version == second.version and second.stamp > first.stamp
    for html, view in (
        (renderer.live_fragments(second), second),
        (renderer.console_fragments(second), second),
    ):
        for attrs in re.findall(r'data-version="(\d+)" data-epoch="(\d+)" data-stamp="(\d+)"', html):
            assert attrs == (str(view.version), str(view.epoch), str(view.stamp))


PLANNED_START = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)


async def test_the_replay_page_of_a_live_show_gives_estimated_times(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    backend.clock.fixed = PLANNED_START
    await backend.press("start")
    # The welcome's stretch (planned 19 h 00 – 20 h 00 in Paris) runs seven minutes over.
    backend.clock.fixed = PLANNED_START + timedelta(hours=1, minutes=7)
    text = visible_text((await client.get(f"/events/{samples.SLUG}/replay")).text)
    assert "fin prévue 21 h 00 → 21 h 07" in text
    assert "Clôture 20 h 00 estimé 20 h 07" in text


async def test_the_hub_moves_projections_with_the_clock_without_a_press_or_a_read(backend: Backend) -> None:
    browser = Browser()
    now = [PLANNED_START + timedelta(seconds=30)]
    backend.clock.fixed = PLANNED_START
    async with (
        running_hub(backend.url, now=lambda: now[0], projection_refresh_seconds=0.05) as hub,
        watching(hub, browser),
    ):
        await backend.press("start")
        await until(lambda: browser.version == 1)
        renders = hub.renders
        await asyncio.sleep(0.2)  # refreshed several times, nothing moved: no render
        assert hub.renders == renders

        now[0] = PLANNED_START + timedelta(hours=1, minutes=7)  # the welcome overruns: all slides
        await until(lambda: "20 h 07" in visible_text(browser.states[-1], "live-programme"))
        [attrs] = attributes(browser.states[-1], "live-status")
        assert attrs["data-version"] == "1"
        stamp = int(attrs["data-stamp"] or 0)
        assert stamp > 0

        now[0] = PLANNED_START + timedelta(hours=1, minutes=9)
        await until(lambda: "21 h 09" in visible_text(browser.states[-1], "live-status"))
        [attrs] = attributes(browser.states[-1], "live-status")
        assert (attrs["data-version"], int(attrs["data-stamp"] or 0) > stamp) == ("1", True)
    assert backend.reads_of_programme() == 0


async def test_a_backend_reset_to_lower_versions_is_followed_after_reconnecting(
    backend: Backend, frontend_template: Path, tmp_path: Path
) -> None:
    """The database was reset and the programme imported again: versions restart, and the pages
    take them (a newer programme revision) instead of ignoring them as old messages."""
    for action in ("start", "next", "next"):
        await backend.press(action)
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await until(lambda: browser.version == 3)
        before = attributes(browser.states[-1], "live-status")[0]
        await backend.stop()

        fresh_copy = tmp_path / "fresh.db"
        shutil.copyfile(frontend_template, fresh_copy)
        fresh = Backend(f"sqlite+aiosqlite:///{fresh_copy}", port=backend.port)
        again = samples.document() | {"subtitle": "Deuxième essai"}
        document = parse_programme(again, source="programme_samples")
        await import_programmes(fresh.settings, [document])  # imported again, changed: version 1
        await fresh.start()
        try:
            await until(lambda: browser.version == 1)
            after = attributes(browser.states[-1], "live-status")[0]
            assert int(after["data-epoch"] or 0) > int(before["data-epoch"] or 0)
            assert "Le direct n'a pas encore commencé." in visible_text(browser.states[-1], "live-now")
            await fresh.press("start")
            await until(lambda: browser.version == 2)
        finally:
            await fresh.close()
