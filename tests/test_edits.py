"""The rule of live edits, on its own: what an edit may touch once the show has begun."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.edits import diff, judge
from app.domain.programme import ProgrammeDocument, parse_programme
from app.domain.refusals import Code, Refusal
from app.domain.show import Run, Status

AT = datetime(2021, 3, 1, 17, 5, tzinfo=UTC)

BASE: dict[str, Any] = {
    "slug": "essai",
    "title": "Essai",
    "starts_at": "2021-03-01T18:00:00+01:00",
    "ends_at": "2021-03-01T20:00:00+01:00",
    "segments": [
        {
            "id": "ouverture",
            "title": "Ouverture",
            "planned_start": "2021-03-01T18:00:00+01:00",
            "planned_end": "2021-03-01T19:00:00+01:00",
            "items": [
                {"id": "accueil", "title": "Accueil"},
                {"id": "keynote", "title": "Keynote"},
                {"id": "debat", "title": "Débat"},
            ],
        },
        {
            "id": "suite",
            "title": "Suite",
            "planned_start": "2021-03-01T19:00:00+01:00",
            "planned_end": "2021-03-01T20:00:00+01:00",
            "items": [
                {"id": "temoignage", "title": "Témoignage"},
                {
                    "id": "mystere",
                    "title": "Invité mystère",
                    "mystery": True,
                    "teaser": "Qui ?",
                    "hidden": {"speakers": [{"name": "Mme X"}], "announcement": "Surprise"},
                },
            ],
        },
    ],
}


def document(change: Any = None) -> ProgrammeDocument:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    return parse_programme(data, source="test")


def live_on(current: str, *started: str) -> Run:
    return Run(
        status=Status.LIVE,
        version=len(started) + 1,
        current=current,
        started_at=AT,
        item_starts={i: AT for i in (*started, current)},
        item_ends={i: AT for i in started},
    )


def refusal(change: Any, run: Run) -> Refusal:
    with pytest.raises(Refusal) as caught:
        judge(document(), document(change), run)
    assert caught.value.code is Code.ITEM_STARTED
    return caught.value


def items(data: dict[str, Any], segment: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = data["segments"][segment]["items"]
    return result


def test_before_the_show_everything_may_change() -> None:
    def rewrite(data: dict[str, Any]) -> None:
        items(data, 0).pop(0)
        items(data, 1).insert(0, {"id": "nouveau", "title": "Nouveau"})

    changes = judge(document(), document(rewrite), Run())
    assert (changes.removed, changes.added) == (("accueil",), ("nouveau",))


def test_what_is_to_come_moves_changes_and_goes_while_live() -> None:
    def rework(data: dict[str, Any]) -> None:
        first = items(data, 0)
        first[1], first[2] = first[2], first[1]  # swap keynote and débat, both to come
        items(data, 1)[0]["title"] = "Témoignage (raccourci)"
        items(data, 1).append({"id": "ajout", "title": "Ajout"})
        data["segments"][0]["planned_end"] = "2021-03-01T18:50:00+01:00"  # a slot shrinks

    changes = judge(document(), document(rework), live_on("accueil"))
    assert changes.moved == ("debat",)  # the fewest moves that explain the new order
    assert changes.changed == ("temoignage",)
    assert changes.added == ("ajout",)
    assert changes.segments_changed == ("ouverture",)
    assert changes.to_json()["items_added"] == ["ajout"]


def test_the_live_item_cannot_change_or_go() -> None:
    def retitle(data: dict[str, Any]) -> None:
        items(data, 0)[1]["title"] = "Autre keynote"

    assert refusal(retitle, live_on("keynote", "accueil")).fields == {
        "item_id": "keynote",
        "segment_id": "ouverture",
    }

    def drop(data: dict[str, Any]) -> None:
        items(data, 0).pop(0)

    error = refusal(drop, live_on("keynote", "accueil"))
    assert str(error) == (
        "« Accueil » cannot be removed: it has already started; what has aired is the record of the show."
    )


def test_an_aired_item_cannot_move_to_another_segment() -> None:
    def move(data: dict[str, Any]) -> None:
        items(data, 1).append(items(data, 0).pop(0))

    assert refusal(move, live_on("keynote", "accueil")).fields["item_id"] == "accueil"


def test_nothing_new_slips_into_what_has_aired() -> None:
    def before_live(data: dict[str, Any]) -> None:
        items(data, 0).insert(1, {"id": "glisse", "title": "Glissé"})

    error = refusal(before_live, live_on("keynote", "accueil"))
    assert error.fields == {"segment_id": "ouverture", "item_id": "glisse"}


def test_a_past_segment_is_the_record_even_its_unplayed_items() -> None:
    def shorten(data: dict[str, Any]) -> None:
        items(data, 0).pop()  # « Débat » was skipped, but its segment has aired

    run = live_on("temoignage", "accueil", "keynote")
    error = refusal(shorten, run)
    assert error.fields == {"segment_id": "ouverture", "item_id": None}


def test_an_ended_show_keeps_its_record_and_takes_a_replay_link() -> None:
    run = Run(
        status=Status.ENDED,
        version=4,
        started_at=AT,
        ended_at=AT,
        item_starts={"accueil": AT, "keynote": AT},
        item_ends={"accueil": AT, "keynote": AT},
    )

    def replay(data: dict[str, Any]) -> None:
        data["replay_url"] = "https://example.org/replay"
        items(data, 1).pop(0)  # that segment never aired

    changes = judge(document(), document(replay), run)
    assert changes.event and changes.removed == ("temoignage",)


def test_a_mystery_items_secret_counts_as_a_change() -> None:
    def rename(data: dict[str, Any]) -> None:
        items(data, 1)[1]["hidden"]["speakers"] = [{"name": "M. Y"}]

    assert diff(document(), document(rename)).changed == ("mystere",)
    assert not diff(document(), document())
