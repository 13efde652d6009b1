"""Documents per item: links in the document, files uploaded, checked by content, served by anyone
once the item is public (a mystery item's only after its reveal)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx

from app.domain.resources import MAX_BYTES
from tests.conftest import Api
from tests.test_edits import BASE
from tests.test_projection import clocked_api

SLUG = "essai"
PATH = f"/api/v1/events/{SLUG}"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


async def admin(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.token('admin')}"}


async def create(api: Api, change: Any = None) -> None:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    response = await api.client.put(PATH, json=data, headers=await admin(api))
    assert response.status_code in (200, 201), response.text


async def upload(
    api: Api, item_id: str, content: bytes, *, name: str = "deck.pdf", title: str = "Présentation partagée"
) -> httpx.Response:
    return await api.client.post(
        f"{PATH}/items/{item_id}/resources",
        files={"file": (name, content, "application/pdf")},
        data={"title": title},
        headers=await admin(api),
    )


def item(event: dict[str, Any], item_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for s in event["segments"] for i in s["items"] if i["id"] == item_id)
    return found


async def test_a_pdf_uploaded_to_an_item_is_listed_and_downloaded_as_it_was(api: Api) -> None:
    await create(api)
    response = await upload(api, "keynote", PDF)
    assert response.status_code == 201
    resource = response.json()
    assert resource == {
        "id": resource["id"],
        "title": "Présentation partagée",
        "url": f"/api/v1/resources/{resource['id']}",
        "content_type": "application/pdf",
        "size": len(PDF),
    }
    event = (await api.client.get(PATH)).json()
    assert item(event, "keynote")["resources"] == [resource]
    timeline = (await api.client.get(f"{PATH}/timeline")).json()
    assert timeline[-1]["action"] == "edit"
    assert timeline[-1]["changes"]["resources_added"] == [resource["id"]]
    download = await api.client.get(resource["url"])
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"presentation-partagee.pdf\"; filename*=UTF-8''presentation-partagee.pdf"
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    # A save of the programme rewrites the items; the document stays with its item.
    await create(api, lambda d: d.update(title="Essai renommé"))
    assert item((await api.client.get(PATH)).json(), "keynote")["resources"] == [resource]
    removed = await api.client.delete(resource["url"], headers=await admin(api))
    assert removed.status_code == 204
    assert (await api.client.get(resource["url"])).json()["code"] == "unknown_resource"


async def test_what_is_not_a_pdf_image_or_deck_is_refused_by_its_content(api: Api) -> None:
    await create(api)
    for content in (ELF, b"#!/bin/sh\nrm -rf /\n", b"MZ\x90\x00" + b"\x00" * 60):
        refused = await upload(api, "keynote", content, name="rapport.pdf")
        assert refused.status_code == 415, content
        assert refused.json()["code"] == "unsupported_media_type"
    elf = await upload(api, "keynote", ELF, name="rapport.pdf")
    assert elf.json()["detail"] == (
        "Only PDF, images (JPEG, PNG, GIF, WebP) and slide decks (PPTX, ODP, PPT) can be shared; "
        "it looks like application/x-executable."
    )
    assert item((await api.client.get(PATH)).json(), "keynote")["resources"] == []
    unknown = await upload(api, "personne", PDF)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_item")


async def test_a_file_over_20_mb_is_refused_from_its_length(api: Api) -> None:
    await create(api)
    refused = await upload(api, "keynote", PDF + b"0" * MAX_BYTES)
    assert (refused.status_code, refused.json()["code"]) == (413, "payload_too_large")
    assert refused.json()["detail"] == "A file may be 20 MB at most."


async def test_only_admins_upload(api: Api) -> None:
    await create(api)
    files = {"file": ("a.pdf", PDF, "application/pdf")}
    anonymous = await api.client.post(f"{PATH}/items/keynote/resources", files=files, data={"title": "x"})
    moderator = await api.client.post(
        f"{PATH}/items/keynote/resources",
        files=files,
        data={"title": "x"},
        headers={"Authorization": f"Bearer {await api.token()}"},
    )
    assert (anonymous.status_code, moderator.status_code) == (401, 403)


async def test_a_mystery_items_documents_stay_hidden_until_its_reveal(api: Api) -> None:
    def with_link(data: dict[str, Any]) -> None:
        data["segments"][1]["items"][1]["resources"] = [
            {"title": "Dossier de Mme X", "url": "https://example.org/mme-x.pdf"}
        ]

    await create(api, with_link)
    resource = (await upload(api, "mystere", PDF, title="Biographie secrète")).json()
    for path in (PATH, f"{PATH}/live", f"{PATH}/schedule.json", f"{PATH}/schedule.xml", f"{PATH}/timeline"):
        body = (await api.client.get(path)).text
        assert "Biographie secrète" not in body and "mme-x" not in body, path
    assert item((await api.client.get(PATH)).json(), "mystere")["resources"] == []
    hidden = await api.client.get(resource["url"])
    assert (hidden.status_code, hidden.json()["code"]) == (404, "unknown_resource")

    version = (await api.live(SLUG))["version"]
    assert (await api.control("start", version, slug=SLUG)).status_code == 200
    assert (await api.control("reveal", version + 1, "mystere", slug=SLUG)).status_code == 200
    revealed = item((await api.client.get(PATH)).json(), "mystere")["resources"]
    assert [r["title"] for r in revealed] == ["Dossier de Mme X", "Biographie secrète"]
    assert revealed[0] == {
        "id": "mystere-link-1",
        "title": "Dossier de Mme X",
        "url": "https://example.org/mme-x.pdf",
        "content_type": None,
        "size": None,
    }
    assert (await api.client.get(resource["url"])).content == PDF
    schedule = (await api.client.get(f"{PATH}/schedule.json")).json()
    talks = [
        t for day in schedule["schedule"]["conference"]["days"] for r in day["rooms"].values() for t in r
    ]
    links = next(t["links"] for t in talks if t["title"] == "Invité mystère")
    assert links == [
        {"url": "https://example.org/mme-x.pdf", "title": "Dossier de Mme X"},
        {"url": f"{api.url}{resource['url']}", "title": "Biographie secrète"},
    ]
    xml = (await api.client.get(f"{PATH}/schedule.xml")).text
    assert f'<link href="{api.url}{resource["url"]}">Biographie secrète</link>' in xml


async def test_a_link_must_be_http_or_https(api: Api) -> None:
    data = copy.deepcopy(BASE)
    data["segments"][0]["items"][0]["resources"] = [{"title": "x", "url": "javascript:alert(1)"}]
    refused = await api.client.put(PATH, json=data, headers=await admin(api))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        "segment 1 « Ouverture », item 1 « Accueil », field `resources.0.url`: "
        "String should match pattern '^https?://[^\\s<>\"]+$'"
    ]


async def test_changes_in_one_tick_of_a_held_clock_are_each_served(sqlite_url: str) -> None:
    """Content is cached per `updated_at`: each change must move it, even at the same instant."""
    async with clocked_api(sqlite_url, now=datetime(2021, 2, 1, 9, tzinfo=UTC)) as (api, _):
        await create(api)
        uploaded = await upload(api, "keynote", PDF)
        assert uploaded.status_code == 201, uploaded.text
        assert [r["title"] for r in item((await api.client.get(PATH)).json(), "keynote")["resources"]] == [
            "Présentation partagée"
        ]

        def renamed(data: Any) -> None:
            data["segments"][0]["items"][1]["title"] = "Keynote renommée"

        await create(api, renamed)
        assert item((await api.client.get(PATH)).json(), "keynote")["title"] == "Keynote renommée"
