"""A sped-up rehearsal: `regie rehearse` flies a copy of the dîner through the API, the live page
moves by itself, and a moderator takes over from the console at once."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import DINER, REGIE, Stack, login
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

# Two hours in thirty seconds: an item every two or three seconds, time enough to take over.
SPEED = 240


class Rehearsal:
    """`regie rehearse` in the background, its output collected line by line."""

    def __init__(self, stack: Stack) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                REGIE,
                "rehearse",
                DINER,
                "--speed",
                str(SPEED),
                "--starts-in",
                "2s",
                "--api-url",
                stack.api_url,
            ],
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"`regie rehearse` never said /{pattern}/:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def test_a_rehearsal_moves_by_itself_until_a_moderator_takes_over(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    rehearsal = Rehearsal(stack)
    viewer_context, moderator_context = browser.new_context(), browser.new_context()
    try:
        slug = rehearsal.wait_for(r"created as (\S+):").group(1)
        viewer = viewer_context.new_page()
        viewer.goto(f"{stack.web_url}/events/{slug}")
        viewer.evaluate("window.__sameDocument = true")
        expect(viewer.get_by_role("heading", level=1)).to_contain_text("Répétition — 3ème dîner")

        # Nobody presses anything: the show starts and moves on by itself.
        now, programme = viewer.locator("#live-now"), viewer.locator("#live-programme")
        expect(viewer.locator("#live-status")).to_contain_text("En direct", timeout=10_000)
        expect(programme.locator(".item.state-past")).to_have_count(2, timeout=15_000)
        expect(programme.locator(".item.state-live")).to_have_count(1)
        viewer.screenshot(path=artifacts / "rehearsal-live-page.png", full_page=True)

        console = moderator_context.new_page()
        login(console, stack, "bruno", f"/events/{slug}/console")
        state = console.locator("#console-state")
        expect(state).to_contain_text("En direct")
        flash = console.locator("#console-flash")
        for _ in range(3):
            # Pressed at the very instant the autopilot did, the press is refused (409) and the
            # console shows the new state: the moderator presses again, as anyone would.
            console.keyboard.press("n")
            expect(flash).to_contain_text(re.compile(r"À l'antenne|Un autre modérateur a agi avant vous"))
            if "À l'antenne" in flash.inner_text():
                break
            console.wait_for_timeout(100)
        rehearsal.wait_for(r"the autopilot stops, the show is yours")
        assert rehearsal.process.wait(timeout=10) == 0

        # The autopilot has let go: the show stays where the moderator put it.
        taken = int(console.locator("[data-version-shown]").inner_text())
        viewer.wait_for_timeout(2500)  # an item's worth of planned time at this speed
        assert int(console.locator("[data-version-shown]").inner_text()) == taken
        expect(now).to_contain_text(state.locator(".now-title").inner_text())

        console.keyboard.press("n")
        expect(console.locator("#console-flash")).to_contain_text(f"(version {taken + 1})")
        expect(viewer.locator("#live-status")).to_have_attribute("data-version", str(taken + 1))
        assert viewer.evaluate("window.__sameDocument") is True, "the live page reloaded"
        console.screenshot(path=artifacts / "rehearsal-console.png", full_page=True)
    finally:
        rehearsal.stop()
        viewer_context.close()
        moderator_context.close()
