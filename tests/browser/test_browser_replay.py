"""The replay page: what actually happened, offsets from the start, chapters, the follow-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import DINER, WEBINAR, Stack
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_replay_of_the_diner_links_the_follow_up_webinar(page: Page, stack: Stack, artifacts: Path) -> None:
    if stack.live(DINER)["status"] == "scheduled":
        stack.control(DINER, "start")
        stack.control(DINER, "next")
        stack.control(DINER, "goto", target="invite-mystere-1")
        stack.control(DINER, "reveal", target="invite-mystere-1")
        stack.control(DINER, "goto", target="enseignements-experimentations")
        stack.control(DINER, "end")
    page.goto(f"{stack.web_url}/events/{DINER}/replay")
    expect(page.get_by_role("heading", level=1)).to_have_text("3ème dîner « Elus & Entreprises »")
    expect(page.locator(".event-head")).to_contain_text("Le direct a commencé à")
    accueil = page.locator("tr", has_text="Accueil")
    expect(accueil).to_contain_text("19 h 00")  # planned, in Paris time
    expect(accueil).to_contain_text("+0:00")
    revealed = page.locator("tr", has_text="L'engagement du monde académique au service des territoires")
    expect(revealed).to_contain_text("Premier invité mystère")
    expect(page.locator("tr", has_text="Investir dans l'ODD 17")).to_contain_text("invité mystère")

    follow_up = page.locator(".see-also")
    expect(follow_up).to_contain_text("À suivre")
    expect(follow_up).to_contain_text("jeudi 26 novembre 2020 à 13 h 00")
    page.screenshot(path=artifacts / "replay-page.png", full_page=True)
    follow_up.get_by_role("link", name=re.compile("L'ODD 17 en pratique")).click()
    expect(page).to_have_url(re.compile(WEBINAR))
    expect(page.get_by_role("heading", level=1)).to_contain_text("5ème webinaire « L'ODD 17 en pratique »")


def test_replay_player_jumps_where_the_videos_own_chapters_begin(page: Page, stack: Stack) -> None:
    """One rule for the page's jumps and the player's chapter track: the API's chapters."""
    import httpx

    slug = "essai-replay"
    if stack.live(slug)["status"] == "scheduled":
        for action in ("start", "next", "next", "end"):
            stack.control(slug, action)
    chapters = httpx.get(f"{stack.api_url}/api/v1/events/{slug}/chapters.json").json()["chapters"]
    assert chapters and chapters[0]["start_seconds"] == 0
    event = httpx.get(f"{stack.api_url}/api/v1/events/{slug}").json()
    titles = {item["id"]: item["title"] for segment in event["segments"] for item in segment["items"]}
    expected: dict[str, int] = {}
    for chapter in chapters:
        expected.setdefault(titles[chapter["item_id"]], int(chapter["start_seconds"]))

    page.goto(f"{stack.web_url}/events/{slug}/replay")
    video = page.locator("video#replay-video")
    expect(video).to_have_attribute("src", "https://videos.example.org/essai/replay.mp4")
    jumps = page.locator("tr.chapter-item").evaluate_all(
        "rows => rows.filter(r => r.querySelector('button.seek')).map(r => "
        "[r.querySelector('.item-title').textContent.trim(), r.querySelector('button.seek').dataset.seek])"
    )
    assert {title: int(seek) for title, seek in jumps} == expected
    first = page.locator("tr.chapter-item button.seek").first
    first.click()
    assert page.evaluate("document.getElementById('replay-video').currentTime") == int(
        first.get_attribute("data-seek") or "-1"
    )

    # The player's own chapters: the API's WebVTT, through this site (a track must be same-origin),
    # starting where the page's jumps go.
    expect(video.locator("track")).to_have_attribute("kind", "chapters")
    cues = page.wait_for_function(
        "() => { const t = document.getElementById('replay-video').textTracks[0];"
        " return t && t.cues && t.cues.length ? Array.from(t.cues, c => [c.startTime, c.text]) : null; }"
    ).json_value()
    assert [round(start) for start, _ in cues] == [round(c["start_seconds"]) for c in chapters]
    assert cues[0][0] == 0 and cues[0][1].startswith("Accueil des participants")


@pytest.mark.parametrize("path", ["/events/{slug}", "/events/{slug}/replay"])
def test_every_export_is_linked_and_answers(page: Page, stack: Stack, path: str) -> None:
    import httpx

    page.goto(stack.web_url + path.format(slug="essai-replay"))
    exports = page.locator(".exports")
    expect(exports.get_by_role("link", name="Ajouter à mon agenda")).to_be_visible()
    hrefs = exports.get_by_role("link").evaluate_all("links => links.map(a => a.href)")
    webcal = stack.api_url.replace("http://", "webcal://") + "/api/v1/events/essai-replay/calendar.ics"
    assert [href.rsplit("/", 1)[1] for href in hrefs] == [
        "calendar.ics",
        "calendar.ics",
        "schedule.xml",
        "schedule.json",
        "chapters.vtt",
        "chapters.txt",
        "report.csv",
        "report.xlsx",
    ]
    assert hrefs[1] == webcal  # the subscription, beside the download
    for href in hrefs[:1] + hrefs[2:]:
        assert href.startswith(f"{stack.api_url}/api/v1/events/essai-replay/")
        assert httpx.get(href).status_code == 200, href


def _timeline(stack: Stack, slug: str) -> list[dict[str, object]]:
    import httpx

    answer = httpx.get(f"{stack.api_url}/api/v1/events/{slug}/timeline")
    answer.raise_for_status()
    entries = answer.json()
    return list(entries if isinstance(entries, list) else entries["entries"])
