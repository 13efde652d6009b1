"""The public pages as a visitor reads them, and the French error pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import programme_samples as samples
from backend import Backend
from fastapi import FastAPI
from html_text import visible_text

from frontend.config import Settings
from frontend.main import create_app
from frontend.models import EventSummary
from frontend.routes.pages import running_order

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


def summary(slug: str, status: str, starts_in_days: float) -> EventSummary:
    start = NOW + timedelta(days=starts_in_days)
    return EventSummary(
        slug=slug, title=slug, starts_at=start, ends_at=start + timedelta(hours=2), status=status
    )


def test_the_live_event_comes_first_then_the_next_one_then_the_past() -> None:
    events = [
        summary("ancien", "ended", -400),
        summary("bientot", "scheduled", 3),
        summary("plus-tard", "scheduled", 30),
        summary("jamais-diffuse", "scheduled", -20),
        summary("maintenant", "live", 0),
    ]
    groups = [(title, [e.slug for e in group]) for title, group in running_order(events, NOW)]
    assert groups == [
        ("En direct", ["maintenant"]),
        ("À venir", ["bientot", "plus-tard"]),
        ("Déjà passés", ["jamais-diffuse", "ancien"]),
    ]


async def test_the_events_page(client: httpx.AsyncClient) -> None:
    text = visible_text((await client.get("/")).text)
    assert "Déjà passés" in text
    assert (
        "Programme Soirée « Essai » des territoires Jouons collectif ! "
        "lundi 23 novembre 2020, 19 h 00 – 21 h 00 (heure de Paris) Voir le programme"
    ) in text


async def test_the_replay_page_before_the_show_shows_the_plan(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/events/{samples.SLUG}/replay")
    text = visible_text(answer.text)
    assert "Le direct n'a pas encore eu lieu : voici le programme prévu." in text
    assert "Accueil Charles HEIDSIECK 19 h 00 — —" in text


async def test_the_replay_page_after_the_show_gives_actual_times_and_offsets(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    for minute, action in ((0, "start"), (1, "next"), (30, "end")):
        backend.clock.fixed = datetime(2020, 11, 23, 18, minute, tzinfo=UTC)
        await backend.press(action)
    text = visible_text((await client.get(f"/events/{samples.SLUG}/replay")).text)
    assert "Le déroulé tel qu'il s'est passé" in text
    assert "Les résultats de l'étude Anne ROBIN — " in text
    assert "+1:00" in text  # the second item, pressed 60 s after the start


async def test_unknown_pages_and_events_answer_in_french(client: httpx.AsyncClient) -> None:
    for path, title in (
        ("/events/pas-un-evenement", "Événement introuvable"),
        ("/events/Pas_Un_Slug!", "Événement introuvable"),
        ("/events/pas-un-evenement/replay", "Événement introuvable"),
        ("/nulle-part", "Page introuvable"),
    ):
        answer = await client.get(path)
        assert answer.status_code == 404
        assert visible_text(answer.text, None).count(title) >= 1, path


async def test_a_backend_that_is_down_gives_a_french_503_page() -> None:
    app: FastAPI = create_app(Settings(api_url="http://127.0.0.1:9", secret_key="s", api_timeout_seconds=0.5))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        for path in ("/", f"/events/{samples.SLUG}", f"/events/{samples.SLUG}/replay"):
            answer = await client.get(path)
            assert answer.status_code == 503
            assert "La régie est momentanément injoignable" in visible_text(answer.text)
            assert answer.headers["retry-after"] == "10"
            assert "Traceback" not in answer.text
        login = await client.get("/login")
        assert login.status_code == 200
