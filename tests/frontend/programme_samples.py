"""A small programme in the API's shapes (contract v1), with a mystery guest and canary secrets."""

from __future__ import annotations

import copy
from typing import Any

SLUG = "soiree-test"
CANARY_NAME = "CANARY-GUEST-7f3a"
CANARY_ANNOUNCEMENT = "CANARY-ANNOUNCEMENT-91bd"


def _item(item_id: str, position: int, title: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": item_id,
        "position": position,
        "kind": "talk",
        "title": title,
        "description": None,
        "planned_start": None,
        "speakers": [],
        "actual_start": None,
        "actual_end": None,
        "mystery": False,
        "revealed": False,
        "revealed_at": None,
        "teaser": None,
        "announcement": None,
    }
    base.update(fields)
    return base


def programme() -> dict[str, Any]:
    """The public programme before the show: the mystery guest is only a teaser."""
    return copy.deepcopy(
        {
            "slug": SLUG,
            "title": "Soirée « Essai » des territoires",
            "subtitle": "Jouons collectif !",
            "description": "Une soirée d'essai.",
            "location": "En ligne",
            "timezone": "Europe/Paris",
            "starts_at": "2020-11-23T18:00:00Z",
            "ends_at": "2020-11-23T20:00:00Z",
            "status": "scheduled",
            "organiser": "Le RAMEAU",
            "partners": ["Banque des Territoires", "Observatoire des partenariats"],
            "see_also": [],
            "stream_url": None,
            "replay_url": None,
            "segments": [
                {
                    "id": "ouverture",
                    "position": 1,
                    "title": "Ouverture",
                    "planned_start": "2020-11-23T18:00:00Z",
                    "planned_end": "2020-11-23T19:00:00Z",
                    "actual_start": None,
                    "actual_end": None,
                    "items": [
                        _item(
                            "accueil",
                            1,
                            "Accueil",
                            kind="welcome",
                            planned_start="2020-11-23T18:00:00Z",
                            speakers=[
                                {
                                    "name": "Charles HEIDSIECK",
                                    "role": "Président",
                                    "organisation": "Le RAMEAU",
                                }
                            ],
                        ),
                        _item(
                            "etude",
                            2,
                            "Les résultats de l'étude",
                            speakers=[
                                {"name": "Anne ROBIN", "role": "Fondatrice", "organisation": "COMISIS"}
                            ],
                        ),
                        _item(
                            "mystere",
                            3,
                            "L'engagement du monde académique",
                            kind="announcement",
                            mystery=True,
                            teaser="Un invité mystère… mais c'est une surprise !",
                        ),
                    ],
                },
                {
                    "id": "cloture",
                    "position": 2,
                    "title": "Clôture",
                    "planned_start": "2020-11-23T19:00:00Z",
                    "planned_end": "2020-11-23T20:00:00Z",
                    "actual_start": None,
                    "actual_end": None,
                    "items": [
                        _item(
                            "mot-de-la-fin",
                            1,
                            "Le mot de la fin",
                            kind="closing",
                            speakers=[
                                {"name": "Elodie JULLIEN", "role": "Directrice", "organisation": "Le RAMEAU"}
                            ],
                        )
                    ],
                },
            ],
        }
    )


HIDDEN = {
    "mystere": {
        "speakers": [{"name": CANARY_NAME, "role": "Chercheuse", "organisation": "Université"}],
        "announcement": CANARY_ANNOUNCEMENT,
    }
}


def document() -> dict[str, Any]:
    """The same programme as a programme document (what `PUT` and `regie import` read), with the
    mystery guest's secrets under `hidden`: the real backend serves it as `programme()` shows."""
    public = programme()
    keep = ("slug", "title", "subtitle", "description", "location", "timezone", "starts_at", "ends_at")
    data: dict[str, Any] = {key: public[key] for key in keep}
    data.update(organiser=public["organiser"], partners=public["partners"])
    data["segments"] = []
    for segment in public["segments"]:
        items = []
        for item in segment["items"]:
            entry = {k: item[k] for k in ("id", "kind", "title", "description", "planned_start", "speakers")}
            if item["mystery"]:
                entry.update(mystery=True, teaser=item["teaser"], hidden=HIDDEN[item["id"]])
            items.append(entry)
        data["segments"].append(
            {k: segment[k] for k in ("id", "title", "planned_start", "planned_end")} | {"items": items}
        )
    return data
