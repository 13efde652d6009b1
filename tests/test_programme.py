"""Programme documents: the seeds as printed, and refusals that say where and why."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from app.domain.programme import ProgrammeError, parse_programme
from tests.conftest import SEEDS

MINIMAL: dict[str, Any] = {
    "slug": "essai",
    "title": "Essai",
    "starts_at": "2021-03-01T18:00:00+01:00",
    "ends_at": "2021-03-01T19:00:00+01:00",
    "segments": [
        {
            "title": "Ouverture",
            "planned_start": "2021-03-01T18:00:00+01:00",
            "planned_end": "2021-03-01T19:00:00+01:00",
            "items": [{"title": "Accueil"}, {"title": "Accueil"}],
        }
    ],
}


def load(slug: str) -> Any:
    path = next(p for p in SEEDS if p.stem == slug)
    return parse_programme(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


def test_the_reference_show_is_the_printed_programme() -> None:
    diner = load("diner-elus-entreprises-2020")
    assert diner.title == "3ème dîner « Elus & Entreprises »"
    assert diner.subtitle == "Jouons collectif !"
    assert diner.timezone == "Europe/Paris"
    assert diner.starts_at == datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    assert [s.planned_start.strftime("%H:%M") for s in diner.segments] == ["18:00", "19:00", "19:40", "19:57"]
    mysteries = [i for s in diner.segments for i in s.items if i.mystery]
    assert [diner.segments.index(s) for s in diner.segments for i in s.items if i.mystery] == [0, 1, 2]
    assert len(mysteries) == 3
    assert all(i.speakers == [] and i.hidden and i.hidden.announcement for i in mysteries)
    speakers = {sp.name: sp for s in diner.segments for i in s.items for sp in i.speakers}
    assert speakers["Anne ROBIN"].organisation == "COMISIS"
    assert "Sarah EL HAÏRY" in speakers
    assert "Banque des Territoires" in diner.partners
    assert "odd17-en-pratique-2020" in diner.see_also


def test_every_seed_validates_and_has_stable_ids() -> None:
    slugs = {load(p.stem).slug for p in SEEDS}
    assert slugs == {
        "diner-elus-entreprises-2020",
        "odd17-en-pratique-2020",
        "rencontre-pionniers-2019",
        "rencontre-pionniers-2015",
    }


def test_missing_ids_are_derived_from_titles_and_never_collide() -> None:
    programme = parse_programme(MINIMAL, source="essai.yaml")
    assert programme.segments[0].id == "ouverture"
    assert [i.id for i in programme.segments[0].items] == ["ouverture-accueil", "ouverture-accueil-2"]


def refusal(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(data, source="essai.yaml")
    assert str(caught.value).startswith("essai.yaml: ")
    return caught.value.problems


def test_an_error_names_the_segment_the_item_and_the_field() -> None:
    data = copy.deepcopy(MINIMAL)
    data["segments"][0]["items"][1] = {"title": "Débat", "speakers": [{"role": "Maire"}]}
    assert refusal(data) == [
        "segment 1 « Ouverture », item 2 « Débat », field `speakers.0.name`: Field required"
    ]


def test_a_mystery_guest_listed_publicly_is_refused() -> None:
    data = copy.deepcopy(MINIMAL)
    data["segments"][0]["items"][0] = {"title": "Invité", "mystery": True, "speakers": [{"name": "X"}]}
    [problem] = refusal(data)
    assert problem.startswith("segment 1 « Ouverture », item 1 « Invité »: a mystery item lists its guests")


def test_times_out_of_order_and_unknown_zones_are_refused() -> None:
    data = copy.deepcopy(MINIMAL)
    data["timezone"] = "Europe/Vincennes"
    data["segments"][0]["planned_end"] = "2021-03-01T17:00:00+01:00"
    problems = refusal(data)
    assert (
        "field `timezone`: « Europe/Vincennes » is not an IANA time zone (for example Europe/Paris)"
        in problems
    )
    assert "segment 1 « Ouverture »: `planned_end` must come after `planned_start`" in problems


def test_naive_times_are_refused_because_they_would_be_ambiguous() -> None:
    data = copy.deepcopy(MINIMAL)
    data["starts_at"] = "2021-03-01T18:00:00"
    [problem] = refusal(data)
    assert problem.startswith("field `starts_at`: Input should have timezone info")
