"""Projected times on every page once the show runs late, kept current while an item overruns;
and states ordered by programme revision, so a reset backend is followed, not ignored."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
import programme_samples as samples
from fake_backend import FakeShow, create_fake_api, serve
from html_text import attributes, visible_text
from test_frontend_hub import Browser, act, running_hub, until, watching
from test_frontend_render import view_at

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
    assert "Fin : prévu 21 h 00 → 21 h 07" in visible_text(live, "live-status")
    assert "prévu 20 h 00 → 20 h 07 Clôture" in visible_text(live, "live-programme")
    assert "Fin de la séquence estimée à 20 h 07" in visible_text(live, "live-now")
    assert "Fin : prévu 21 h 00 → 21 h 07" in visible_text(console, "console-state")
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


async def test_the_replay_page_of_a_live_show_gives_estimated_times(
    client: httpx.AsyncClient, show: FakeShow
) -> None:
    assert show.apply("start", None) is None
    show.projections = LATE
    text = visible_text((await client.get(f"/events/{samples.SLUG}/replay")).text)
    assert "fin prévu 21 h 00 → 21 h 07" in text
    assert "Clôture 20 h 00 estimé 20 h 07" in text


async def test_the_hub_re_renders_when_projections_move_without_a_press(show: FakeShow, api_url: str) -> None:
    browser = Browser()
    async with running_hub(api_url, projection_refresh_seconds=0.05) as hub, watching(hub, browser):
        act(show, "start")
        await until(lambda: browser.version == 2)
        renders = hub.renders
        await until(lambda: show.not_modified >= 2)  # polled, nothing moved: no render
        assert hub.renders == renders

        show.projections = LATE  # the first item overruns: everything after it slides
        await until(lambda: "20 h 07" in visible_text(browser.states[-1], "live-programme"))
        [attrs] = attributes(browser.states[-1], "live-status")
        assert attrs["data-version"] == "2"
        stamp = int(attrs["data-stamp"] or 0)
        assert stamp > 0

        show.projections = {**LATE, "end": "2020-11-23T20:09:00Z"}
        await until(lambda: "21 h 09" in visible_text(browser.states[-1], "live-status"))
        [attrs] = attributes(browser.states[-1], "live-status")
        assert (attrs["data-version"], int(attrs["data-stamp"] or 0) > stamp) == ("2", True)


async def test_a_backend_reset_to_lower_versions_is_followed_after_reconnecting(show: FakeShow) -> None:
    """The database was reset and the programme imported again: versions restart, and the pages
    take them (a newer programme revision) instead of ignoring them as old messages."""
    show.updated_at = "2020-11-01T10:00:00Z"
    for action in ("start", "next", "next"):
        assert show.apply(action, None) is None
    browser = Browser()
    backend = serve(create_fake_api(show))
    url = await backend.__aenter__()
    port = int(url.rsplit(":", 1)[1])
    try:
        async with running_hub(url) as hub, watching(hub, browser):
            await until(lambda: browser.version == 4)
            before = attributes(browser.states[-1], "live-status")[0]
            await backend.__aexit__(None, None, None)

            fresh = FakeShow()  # a new database: version 1, the show not started
            fresh.updated_at = "2020-11-20T09:00:00Z"
            async with serve(create_fake_api(fresh), port=port):
                await until(lambda: browser.version == 1)
                after = attributes(browser.states[-1], "live-status")[0]
                assert int(after["data-epoch"] or 0) > int(before["data-epoch"] or 0)
                assert "Le direct n'a pas encore commencé." in visible_text(browser.states[-1], "live-now")
                act(fresh, "start")
                await until(lambda: browser.version == 2)
    finally:
        with contextlib.suppress(Exception):
            await backend.__aexit__(None, None, None)
        await asyncio.sleep(0)
