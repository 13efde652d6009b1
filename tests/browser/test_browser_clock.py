"""Time every screen agrees on: a browser whose clock is five minutes wrong shows the server's time
left, to the second; and a show running late shows where its later parts now stand."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import Stack
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

SLUG = "essai-horloge"
PARIS = ZoneInfo("Europe/Paris")
SHOWN = re.compile(r"(?:(\d+) min )?(\d+) s")


def hm(moment: str) -> str:
    local = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(PARIS)
    return f"{local.hour} h {local.minute:02d}"


def assert_time_left(locator: Locator, target: datetime) -> None:
    """What the page shows is the server's time left (this machine's clock is the server's: the
    servers run here), to within a second.

    Read as the page's next tick writes it, so the comparison measures the page's clock, not how
    long ago it last ticked."""
    text = locator.evaluate(
        """el => new Promise(resolve => {
            const watch = new MutationObserver(() => { watch.disconnect(); resolve(el.textContent); });
            watch.observe(el, {childList: true, characterData: true, subtree: true});
        })"""
    )
    truth = target.timestamp() - time.time()
    match = SHOWN.search(text)
    assert match, f"no time left in {text!r}"
    shown = int(match.group(1) or 0) * 60 + int(match.group(2))
    assert abs(shown - truth) <= 1.0, f"the page shows {shown} s left, the server {truth:.2f} s"


def test_a_browser_five_minutes_wrong_shows_the_servers_time_left(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    stack.control(SLUG, "start")  # ten minutes after its planned start: the show runs late
    event = httpx.get(f"{stack.api_url}/api/v1/events/{SLUG}").json()
    opening, closing = event["segments"]
    segment_end = datetime.fromisoformat(opening["planned_end"].replace("Z", "+00:00"))

    context = browser.new_context()
    try:
        page: Page = context.new_page()
        samples: list[str] = []
        page.on(
            "request", lambda request: samples.append(request.url) if request.url.endswith("/time") else None
        )
        wrong = datetime.now(UTC) + timedelta(minutes=5)
        page.clock.install(time=wrong)
        page.goto(f"{stack.web_url}/events/{SLUG}")
        assert page.evaluate("Date.now()") / 1000 - time.time() > 290, "the browser's clock is not shifted"

        left = page.locator("#live-now [data-time-left]")
        expect(left).to_have_text(re.compile(r"^reste \d+ min \d+ s$"))
        expect(page.locator("html")).to_have_attribute("data-clock-rtt", re.compile(r"\d+"))
        assert len(samples) >= 5, "the page did not measure its offset to the server"
        assert_time_left(left, segment_end)

        # The system clock is set under the running page (ten minutes back, now five minutes
        # slow): the page notices and measures again.
        measured = len(samples)
        page.clock.set_system_time(datetime.now(UTC) - timedelta(minutes=5))
        for _ in range(50):
            if len(samples) >= measured + 5:
                break
            page.wait_for_timeout(100)
        assert len(samples) >= measured + 5, "the page did not measure again after its clock moved"
        page.wait_for_timeout(1200)
        assert_time_left(left, segment_end)

        # Ten minutes late: the closing segment and the end of the show are where they now stand.
        assert closing["projected_start"] and event["projected_end"]
        status, programme = page.locator("#live-status"), page.locator("#live-programme")
        # Ten minutes late at the start, more while the live item overruns: the headline and the
        # estimated end (next line) say the same lateness.
        expect(status).to_contain_text(re.compile(r"Le direct a 1\d min de retard"))
        expect(status).to_contain_text(
            f"Fin prévue à {hm(event['ends_at'])}, estimée à {hm(event['projected_end'])}"
        )
        expect(programme.locator(".segment-head", has_text="Clôture")).to_contain_text(
            f"prévu {hm(closing['planned_start'])} → {hm(closing['projected_start'])}"
        )
        page.screenshot(path=artifacts / "live-page-late.png", full_page=True)
    finally:
        context.close()
