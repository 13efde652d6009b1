"""Pages and their live fragments: rendered from the same template blocks, shared by all viewers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import programme_samples as samples
from html_text import attributes, visible_text

from frontend.models import Event, LiveState
from frontend.presenter import ShowView, show_view
from frontend.render import LIVE_BLOCKS, Renderer

LIVE_IDS = ("live-status", "live-now", "live-question", "live-guests", "live-programme", "live-announcer")
CONSOLE_IDS = ("console-state", "console-controls", "console-programme")
renderer = Renderer()
API = "https://api.example.org"


def view_at(item: str | None, *, status: str = "live", version: int = 7, revealed: bool = False) -> ShowView:
    programme = samples.programme()
    if revealed:
        programme["segments"][0]["items"][2].update(
            revealed=True,
            speakers=samples.HIDDEN["mystere"]["speakers"],
            announcement=samples.CANARY_ANNOUNCEMENT,
        )
    ids = [i["id"] for segment in programme["segments"] for i in segment["items"]]
    played = ids[: ids.index(item) + 1] if item in ids else []
    for segment in programme["segments"]:
        for raw in segment["items"]:
            if raw["id"] in played:
                raw["actual_start"] = "2020-11-23T18:05:00Z"
    event = Event.model_validate(programme)
    items = event.items
    index = next((i for i, it in enumerate(items) if it.id == item), None)
    live = LiveState(
        event=samples.SLUG,
        version=version,
        status=status,
        server_time=datetime(2020, 11, 23, 18, 30, tzinfo=UTC),
        segment=next((s for s in event.segments if any(i.id == item for i in s.items)), None),
        item=items[index] if index is not None else None,
        next_item=items[index + 1]
        if index is not None and index + 1 < len(items)
        else items[0]
        if status == "scheduled"
        else None,
        drift_seconds=300,
    )
    return show_view(event, live)


def page(view: ShowView) -> str:
    return renderer.page("live.html", {"view": view, "related": [], "api_url": API})


def test_every_fragment_is_a_top_level_element_with_its_id_and_version() -> None:
    fragments = renderer.live_fragments(view_at("etude"))
    top_level_ids = re.findall(r'^\s*<(?:section|div) id="([a-z-]+)"', fragments, flags=re.MULTILINE)
    assert tuple(top_level_ids) == LIVE_IDS
    for element_id in LIVE_IDS:
        [attrs] = attributes(fragments, element_id)
        assert attrs["data-version"] == "7"


def test_the_page_contains_its_fragments_verbatim() -> None:
    """Blocks reused as fragments: a page and the updates swapped into it cannot drift apart."""
    view = view_at("etude")
    html = page(view)
    for block in LIVE_BLOCKS:
        fragment = renderer.blocks("live.html", [block], {"view": view})
        assert fragment.strip() in html
    assert renderer.live_fragments(view) == "".join(
        renderer.blocks("live.html", [block], {"view": view}) for block in LIVE_BLOCKS
    )


def test_the_live_page_shows_who_speaks_now_and_next_in_paris_time() -> None:
    html = page(view_at("etude"))
    assert visible_text(html, "live-status") == "En direct Le direct a 5 min de retard. Fin prévue à 21 h 00"
    now = visible_text(html, "live-now")
    assert "Séquence en cours Ouverture Prévue 19 h 00 – 20 h 00" in now
    assert "En ce moment Intervention Les résultats de l'étude Anne ROBIN Fondatrice, COMISIS" in now
    assert "Ensuite L'engagement du monde académique invité mystère" in now
    order = visible_text(html, "live-programme")
    assert "terminé Accueil Charles HEIDSIECK 19 h 05" in order
    assert "en cours Les résultats de l'étude Anne ROBIN" in order
    assert "à venir · ensuite L'engagement du monde académique invité mystère" in order
    assert visible_text(html, "live-announcer") == (
        "En direct : Les résultats de l'étude, avec Anne ROBIN. Ensuite : L'engagement du monde académique."
    )


def test_a_mystery_shows_its_teaser_until_revealed_then_its_guest() -> None:
    secret = page(view_at("mystere"))
    assert "Un invité mystère… mais c'est une surprise !" in visible_text(secret, "live-now")
    assert visible_text(secret, "live-guests") == ""  # the section is hidden
    revealed = page(view_at("mystere", revealed=True, version=8))
    assert f"{samples.CANARY_NAME} Chercheuse, Université" in visible_text(revealed, "live-now")
    assert samples.CANARY_ANNOUNCEMENT in visible_text(revealed, "live-guests")
    assert "Les invités révélés L'engagement du monde académique" in visible_text(revealed, "live-guests")


def test_before_the_show_a_countdown_to_the_start() -> None:
    html = page(view_at(None, status="scheduled", version=0))
    assert visible_text(html, "live-status") == "À venir Début prévu à 19 h 00"
    [countdown] = re.findall(r'data-countdown="([^"]+)"', html)
    assert countdown == "2020-11-23T18:00:00Z"
    assert "Le direct n'a pas encore commencé." in visible_text(html, "live-now")


def test_console_fragments_carry_the_version_they_act_on_and_no_session_data() -> None:
    fragments = renderer.console_fragments(view_at("mystere", version=12))
    top_level_ids = re.findall(r'^\s*<section id="([a-z-]+)"', fragments, flags=re.MULTILINE)
    assert tuple(top_level_ids) == CONSOLE_IDS
    assert "Version 12" in visible_text(fragments, "console-state")
    presses = [json.loads(v.replace("&#34;", '"')) for v in re.findall(r"hx-vals='([^']+)'", fragments)]
    assert {p["expected_version"] for p in presses} == {12}
    assert {"action": "reveal", "expected_version": 12, "target": "mystere"} in presses
    assert {"action": "goto", "expected_version": 12, "target": "mot-de-la-fin"} in presses
    assert "csrf" not in fragments.lower()
    assert "Invité mystère non révélé" in visible_text(fragments, "console-state")


def test_console_buttons_follow_the_state() -> None:
    def disabled(view: ShowView) -> set[str]:
        controls = re.findall(r'data-shortcut="(\w+)"[^>]*?>', renderer.console_fragments(view), flags=re.S)
        html = renderer.console_fragments(view)
        return {
            action
            for action in controls
            if re.search(rf'data-shortcut="{action}"[^>]*?\sdisabled[\s>]', html, flags=re.S)
        }

    assert disabled(view_at(None, status="scheduled", version=0)) == {"previous", "next", "reveal", "end"}
    assert disabled(view_at("etude")) == {"start", "reveal"}
    assert disabled(view_at("mystere")) == {"start"}


def test_link_status_fragment() -> None:
    assert visible_text(renderer.link_status(up=True)) == ""
    assert "La liaison avec la régie est interrompue" in visible_text(renderer.link_status(up=False))
