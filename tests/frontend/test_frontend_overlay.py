"""The OBS lower third: who speaks now, the mystery guest only at the reveal, pushed once per change
over its own socket; and the exports linked from the live and replay pages."""

from __future__ import annotations

import re

import httpx
import programme_samples as samples
from backend import Backend
from html_text import attributes, visible_text
from test_frontend_render import view_at
from test_frontend_sockets import receive_state, ws_url
from websockets.asyncio.client import connect

from frontend.config import Settings
from frontend.main import create_app
from frontend.render import Renderer

renderer = Renderer()
OVERLAY = f"/events/{samples.SLUG}/overlay"


def third(item: str | None, **options: object) -> str:
    return visible_text(renderer.overlay_fragments(view_at(item, **options)), "overlay-third")  # type: ignore[arg-type]


def test_the_lower_third_names_who_speaks_now_with_role_and_organisation() -> None:
    assert third("etude") == "Les résultats de l'étude Anne ROBIN Fondatrice, COMISIS"
    assert third(None, status="scheduled", version=0) == ""


def test_the_mystery_guest_appears_only_at_the_reveal() -> None:
    secret = renderer.overlay_fragments(view_at("mystere"))
    assert visible_text(secret, "overlay-third") == "Invité mystère L'engagement du monde académique"
    assert samples.CANARY_NAME not in secret
    revealed = third("mystere", revealed=True, version=8)
    assert revealed == f"L'engagement du monde académique {samples.CANARY_NAME} Chercheuse, Université"


def test_the_third_carries_its_order_and_a_key_of_what_it_shows() -> None:
    before = attributes(renderer.overlay_fragments(view_at("mystere", version=7)), "overlay-third")[0]
    after = attributes(
        renderer.overlay_fragments(view_at("mystere", version=8, revealed=True)), "overlay-third"
    )[0]
    assert (before["data-version"], after["data-version"]) == ("7", "8")
    assert before["data-key"] != after["data-key"]  # the reveal changes what it shows: it plays in


async def test_the_overlay_page_is_transparent_and_connects_to_its_socket(client: httpx.AsyncClient) -> None:
    page = await client.get(OVERLAY)
    assert page.status_code == 200
    assert 'href="/static/css/overlay.css"' in page.text
    assert "regie.css" not in page.text  # the site's opaque page background stays out of OBS
    assert f'ws-connect="/events/{samples.SLUG}/overlay/ws"' in page.text
    assert "<script>" not in page.text  # the CSP allows no inline script


async def test_the_overlay_socket_pushes_the_third_on_each_change(web_url: str, backend: Backend) -> None:
    async with connect(ws_url(web_url, f"{OVERLAY}/ws"), origin=web_url) as socket:
        first = await receive_state(socket)
        assert re.match(r'\s*<div id="overlay-third"', first)
        assert "live-link" not in first  # never a word about the connection on the video
        await backend.press("start")
        assert "Charles HEIDSIECK Président, Le RAMEAU" in visible_text(
            await receive_state(socket), "overlay-third"
        )


async def test_while_the_backend_is_down_the_overlay_is_an_empty_transparent_page() -> None:
    app = create_app(Settings(api_url="http://127.0.0.1:9", secret_key="s", api_timeout_seconds=0.3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        page = await client.get(OVERLAY)
    assert page.status_code == 200
    assert attributes(page.text, "overlay-third") and visible_text(page.text, "overlay-third") == ""
    assert "injoignable" not in page.text  # nothing about the outage painted on the video


async def test_live_and_replay_pages_link_every_export_on_the_public_api_url(api_url: str) -> None:
    settings = Settings(api_url=api_url, public_api_url="https://api.regie.example", secret_key="s")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in (f"/events/{samples.SLUG}", f"/events/{samples.SLUG}/replay"):
            html = (await client.get(path)).text
            links = dict(
                (text.strip(), href)
                for href, text in re.findall(
                    r'<a [^>]*href="(https://api\.regie\.example/[^"]+)"[^>]*>([^<]+)</a>', html
                )
            )
            base = f"https://api.regie.example/api/v1/events/{samples.SLUG}"
            assert links == {
                "Ajouter à mon agenda": f"{base}/calendar.ics",
                "Programme au format Frab (XML)": f"{base}/schedule.xml",
                "Programme au format Frab (JSON)": f"{base}/schedule.json",
                "Chapitres de la vidéo (WebVTT)": f"{base}/chapters.vtt",
                "Chapitres pour YouTube (texte)": f"{base}/chapters.txt",
                "Rapport prévu / réel (CSV)": f"{base}/report.csv",
                "Rapport prévu / réel (Excel)": f"{base}/report.xlsx",
            }, path
            webcal = f"webcal://api.regie.example/api/v1/events/{samples.SLUG}/calendar.ics"
            assert f"<a href=\"{webcal}\">S'abonner à l'agenda</a>" in html, path
            assert api_url not in html  # the internal address stays internal


async def test_the_replay_video_has_a_chapters_track_served_by_this_site(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await backend.replace(replay_url="https://videos.example.org/soiree.mp4")
    html = (await client.get(f"/events/{samples.SLUG}/replay")).text
    [track] = re.findall(r"<track [^>]+>", html)
    assert 'kind="chapters"' in track and f'src="/events/{samples.SLUG}/chapters.vtt"' in track
    vtt = await client.get(f"/events/{samples.SLUG}/chapters.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
