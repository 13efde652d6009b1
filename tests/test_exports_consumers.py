"""What third parties read in the exports, each through the consumer they use.

The calendar through `vobject` (what many CalDAV tools and importers parse with), the frab
schedule as importers of several conferences into one instance key it, the spreadsheet through
`openpyxl` as Excel stores it.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import vobject

from app.config import Settings
from frontend.config import Settings as FrontendSettings
from frontend.main import create_app as create_frontend
from tests.conftest import DINER, SEEDS, Api, migrate, programme_file, running_api, seed
from tests.test_exports import assert_c3voc_json, assert_c3voc_xml, play_the_diner
from tests.test_projection import DINER_FILE, Clock, clocked_api
from tests.test_resources import PDF, create, upload
from tests.test_timezones import utc

PUBLIC = "https://regie.example.org"
PUNCTUATED: dict[str, Any] = {
    "slug": "ponctuation",
    "title": "Élus; entreprises, associations : ensemble",
    "subtitle": "Une soirée; trois tables, un territoire",
    "timezone": "Europe/Paris",
    "starts_at": "2021-03-01T18:00:00+01:00",
    "ends_at": "2021-03-01T19:00:00+01:00",
    "segments": [
        {
            "id": "seul",
            "title": "Tables rondes",
            "planned_start": "2021-03-01T18:00:00+01:00",
            "planned_end": "2021-03-01T19:00:00+01:00",
            "items": [
                {"id": "accueil", "title": "Accueil", "speakers": [{"name": "Anne Publique"}]},
                {
                    "id": "surprise",
                    "title": "Une surprise",
                    "mystery": True,
                    "teaser": "Qui ?",
                    "hidden": {"speakers": [{"name": "Zoé Secrète"}]},
                },
            ],
        }
    ],
}


@pytest.fixture
async def public_api(sqlite_url: str) -> AsyncIterator[tuple[Api, Clock]]:
    """All the seeds, and the public base URL the exports must link to."""
    await migrate(sqlite_url)
    await seed(sqlite_url)
    clock = Clock(utc("2020-11-23T17:00:00+00:00"))
    settings = Settings(database_url=sqlite_url, public_url=PUBLIC + "/")
    async with running_api(settings, clock=clock) as api:
        yield api, clock


async def read(api: Api, slug: str, name: str, **headers: str) -> bytes:
    response = await api.client.get(f"/api/v1/events/{slug}/{name}", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


# --- calendar.ics through vobject -----------------------------------------------------------------


async def test_a_calendar_subscription_reads_the_whole_title_and_each_entry_links_its_page(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = programme_file(tmp_path, PUNCTUATED)
    async with clocked_api(sqlite_url, path, now=utc("2021-03-01T16:00:00+00:00")) as (api, _):
        calendar = vobject.readOne((await read(api, "ponctuation", "calendar.ics")).decode())
    assert calendar.contents["name"][0].value == "Élus; entreprises, associations : ensemble"
    assert calendar.contents["x-wr-calname"][0].value == "Élus; entreprises, associations : ensemble"
    assert calendar.contents["x-wr-caldesc"][0].value == "Une soirée; trois tables, un territoire"
    refresh = calendar.contents["refresh-interval"][0]
    assert (refresh.value, refresh.params["VALUE"]) == ("PT1H", ["DURATION"])
    (entry,) = calendar.contents["vevent"]
    assert entry.url.value == "http://127.0.0.1:8080/events/ponctuation"
    assert int(entry.sequence.value) > 0


async def test_a_calendar_entry_links_the_configured_public_page_whatever_the_host(
    public_api: tuple[Api, Clock],
) -> None:
    api, _ = public_api
    body = await read(api, DINER, "calendar.ics", host="attacker.example")
    calendar = vobject.readOne(body.decode())
    assert {entry.url.value for entry in calendar.contents["vevent"]} == {f"{PUBLIC}/events/{DINER}"}
    assert calendar.contents["url"][0].value == f"{PUBLIC}/events/{DINER}"
    assert b"attacker" not in body


async def test_the_sequence_of_an_entry_grows_when_it_changes(public_api: tuple[Api, Clock]) -> None:
    api, clock = public_api
    admin = {"Authorization": f"Bearer {await api.token('admin')}"}

    async def sequences(slug: str) -> list[int]:
        calendar = vobject.readOne((await read(api, slug, "calendar.ics")).decode())
        return [int(entry.sequence.value) for entry in calendar.contents["vevent"]]

    put = await api.client.put("/api/v1/events/ponctuation", json=PUNCTUATED, headers=admin)
    assert put.status_code in (200, 201), put.text
    imported = await sequences("ponctuation")
    assert imported == await sequences("ponctuation")  # unchanged: calendar apps keep their entries
    clock.now += timedelta(minutes=1)  # a revision later
    changed = {**PUNCTUATED, "title": "Élus et entreprises, ensemble"}
    put = await api.client.put("/api/v1/events/ponctuation", json=changed, headers=admin)
    assert put.status_code in (200, 201), put.text
    assert (await sequences("ponctuation"))[0] > imported[0]

    # A reveal changes the entry of its segment only (its guest is now in the description).
    before = await sequences(DINER)
    clock.now = datetime.now(UTC) + timedelta(minutes=5)  # the seeds were imported on the real clock
    assert (await api.control("start", 0)).status_code == 200
    assert (await api.control("reveal", 1, "invite-mystere-1")).status_code == 200
    after = await sequences(DINER)
    assert after[0] > before[0] and after[1:] == before[1:]


# --- frab / c3voc: several events in one instance ---------------------------------------------------


async def test_schedule_ids_are_unique_across_every_event_of_the_instance(
    public_api: tuple[Api, Clock],
) -> None:
    api, _ = public_api
    slugs = [event["slug"] for event in (await api.client.get("/api/v1/events")).json()]
    assert len(slugs) == len(SEEDS) >= 2
    json_ids: list[int] = []
    xml_ids: list[str] = []
    for slug in slugs:
        events = assert_c3voc_json(json.loads(await read(api, slug, "schedule.json")))
        json_ids += [event["id"] for event in events]
        xml_ids += [str(e.get("id")) for e in assert_c3voc_xml(await read(api, slug, "schedule.xml"))]
    assert len(set(json_ids)) == len(json_ids)
    assert sorted(xml_ids) == sorted(str(i) for i in json_ids)


async def test_schedule_links_are_the_items_pages_for_people_whatever_the_host(
    public_api: tuple[Api, Clock],
) -> None:
    api, _ = public_api
    document = json.loads(await read(api, DINER, "schedule.json", host="attacker.example"))
    conference = document["schedule"]["conference"]
    assert conference["url"] == f"{PUBLIC}/events/{DINER}"
    events = [e for day in conference["days"] for room in day["rooms"].values() for e in room]
    first = events[0]
    assert first["url"] == f"{PUBLIC}/events/{DINER}#item-accueil"
    root = ET.fromstring(await read(api, DINER, "schedule.xml", host="attacker.example"))
    urls = [event.findtext("url") for event in root.iter("event")]
    assert urls == [event["url"] for event in events]
    assert not any("/api/" in (url or "") for url in urls)


async def test_persons_carry_the_same_guid_in_the_xml_as_in_the_json(public_api: tuple[Api, Clock]) -> None:
    api, _ = public_api
    document = json.loads(await read(api, DINER, "schedule.json"))
    days = document["schedule"]["conference"]["days"]
    in_json = {
        person["name"]: person["guid"]
        for day in days
        for room in day["rooms"].values()
        for event in room
        for person in event["persons"]
    }
    root = ET.fromstring(await read(api, DINER, "schedule.xml"))
    in_xml = {person.text: person.get("guid") for person in root.iter("person")}
    assert in_xml == in_json and "Charles-Benoît HEIDSIECK" in in_xml
    assert all((person.get("id") or "").isdigit() for person in root.iter("person"))


# --- report.xlsx through openpyxl -------------------------------------------------------------------


async def test_the_spreadsheet_report_has_typed_times_and_numbers(sqlite_url: str) -> None:
    async with clocked_api(sqlite_url, DINER_FILE, now=utc("2020-11-23T17:00:00+00:00")) as (api, clock):
        await play_the_diner(api, clock)
        response = await api.client.get(f"/api/v1/events/{DINER}/report.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Rapport"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:6] == (
        "level",
        "segment_id",
        "item_id",
        "title",
        "speakers",
        "planned_start (Europe/Paris)",
    )
    accueil = dict(zip(header, next(row for row in rows if row[2] == "accueil"), strict=True))
    assert accueil["planned_start (Europe/Paris)"] == datetime(2020, 11, 23, 19, 0)
    assert accueil["actual_start (Europe/Paris)"] == datetime(2020, 11, 23, 19, 2)
    assert accueil["actual_duration_seconds"] == 600 and accueil["start_delay_seconds"] == 120
    assert accueil["planned_end (Europe/Paris)"] is None
    show = dict(zip(header, rows[-1], strict=True))
    assert (show["level"], show["title"], show["planned_duration_seconds"]) == (
        "show",
        "3ème dîner « Elus & Entreprises »",
        7200,
    )
    cell = sheet.cell(row=2, column=6)
    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm:ss"


async def test_the_spreadsheet_keeps_formula_like_titles_as_text(sqlite_url: str, tmp_path: Path) -> None:
    show = json.loads(json.dumps(PUNCTUATED))
    show["segments"][0]["items"][0]["title"] = '=HYPERLINK("http://example.invalid")'
    path = programme_file(tmp_path, show)
    async with clocked_api(sqlite_url, path, now=utc("2021-03-01T16:00:00+00:00")) as (api, _):
        body = await read(api, "ponctuation", "report.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(body))["Rapport"]
    cell = sheet.cell(row=2, column=4)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://example.invalid")', "s")


async def test_the_csv_report_stays_rfc_4180_utf8_without_a_bom(public_api: tuple[Api, Clock]) -> None:
    api, _ = public_api
    body = await read(api, DINER, "report.csv")
    assert body.startswith(b"level,segment_id,") and b"\r\n" in body
    body.decode("utf-8")


async def test_an_uploaded_document_is_linked_under_the_public_url_where_the_pages_serve_it(
    public_api: tuple[Api, Clock],
) -> None:
    api, _ = public_api
    await create(api)
    uploaded = await upload(api, "keynote", PDF)
    assert uploaded.status_code == 201, uploaded.text
    resource = uploaded.json()
    link = f"{PUBLIC}/resources/{resource['id']}"
    document = json.loads(await read(api, "essai", "schedule.json", host="attacker.example"))
    events = [
        e
        for day in document["schedule"]["conference"]["days"]
        for room in day["rooms"].values()
        for e in room
    ]
    keynote = next(e for e in events if e["title"] == "Keynote")
    assert keynote["links"] == [{"url": link, "title": "Présentation partagée"}]
    root = ET.fromstring(await read(api, "essai", "schedule.xml", host="attacker.example"))
    assert [a.get("href") for a in root.iter("link")] == [link]
    # That address is the pages' own relay of the document: what a person following it gets.
    pages = create_frontend(FrontendSettings(api_url=api.url, secret_key="s"))
    async with pages.router.lifespan_context(pages):
        transport = httpx.ASGITransport(app=pages)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as browser:
            followed = await browser.get(link.removeprefix(PUBLIC))
    assert (followed.status_code, followed.content) == (200, PDF)
