"""The OBS lower third in a 1920×1080 browser source: transparent, no scrollbars, big shadowed type,
switching with the show, the mystery guest's name appearing at its reveal."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from conftest import Stack, canary
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

SLUG = "essai-overlay"


def alpha_at(page: Page, x: float, y: float) -> int:
    """The opacity of one pixel of the page as OBS composites it (background omitted)."""
    png = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1}, omit_background=True)
    chunks, offset, colour = b"", 8, -1
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IHDR":
            depth, colour = png[offset + 16], png[offset + 17]
            assert depth == 8 and colour in (2, 6), "expected an 8-bit RGB(A) screenshot"
        if kind == b"IDAT":
            chunks += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    if colour == 2:
        return 255  # no alpha channel at all: the encoder found nothing transparent
    row = zlib.decompress(chunks)
    return row[4]  # filter byte, then R, G, B, A of the only pixel (no neighbour to predict from)


def test_the_lower_third_follows_the_show_on_a_transparent_page(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{stack.web_url}/events/{SLUG}/overlay")
        third = page.locator("#overlay-third")
        expect(third).to_be_empty()  # nothing on air yet: nothing on the video

        stack.control(SLUG, "start")
        expect(third).to_contain_text("Alice MARTIN")
        expect(third).to_contain_text("Présidente, Association Essai")
        expect(third).to_contain_text("Accueil des participants")

        for element in ("html", "body"):
            background = page.evaluate(
                f"getComputedStyle(document.querySelector('{element}')).backgroundColor"
            )
            assert background == "rgba(0, 0, 0, 0)", f"{element} is not transparent"
        size = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
            " innerWidth, innerHeight]"
        )
        assert size[0] <= size[2] and size[1] <= size[3], f"the overlay scrolls: {size}"
        name = third.locator(".third-name")
        assert float(name.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 56
        assert name.evaluate("el => getComputedStyle(el).textShadow") != "none"
        box = third.locator(".third").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1080 and box["y"] > 540  # the lower third
        assert alpha_at(page, 5, 5) == 0, "the page paints over the video"
        page.wait_for_timeout(600)  # the entrance has played
        assert alpha_at(page, box["x"] + 2, box["y"] + box["height"] / 2) == 255
        page.screenshot(path=artifacts / "overlay.png", omit_background=True)

        stack.control(SLUG, "next")
        expect(third).to_contain_text("Bernard DURAND")
        expect(third).to_contain_text("Chercheur, Institut Essai")

        stack.control(SLUG, "next")
        expect(third).to_contain_text("Invité mystère")
        expect(third).to_contain_text("Une annonce pour les territoires")
        assert canary(SLUG, "NAME") not in page.content()

        stack.control(SLUG, "reveal", target="mystere")
        expect(third).to_contain_text(canary(SLUG, "NAME"))
        expect(third).to_contain_text(f"{canary(SLUG, 'ROLE')}, {canary(SLUG, 'ORG')}")
        page.wait_for_timeout(900)
        page.screenshot(path=artifacts / "overlay-reveal.png", omit_background=True)

        stack.control(SLUG, "end")
        expect(third).to_be_empty()
        assert errors == [], "the overlay logged errors (a CSP violation, a script error)"
    finally:
        context.close()
