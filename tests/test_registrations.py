"""Registration, through the public API of a real backend, with e-mails read on a real SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import openpyxl
import pytest

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.services.registrations import erase_expired
from tests.conftest import Api, migrate, programme_file, regie, regie_env, running_api, seed
from tests.mailbox import Mailbox
from tests.test_projection import Clock
from tests.test_sessions import SLUG, WORKSHOPS

PAGES = "https://pages.example.org"
BEFORE = datetime(2030, 2, 20, 9, tzinfo=UTC)  # a week before the Rencontre, sign-up open
ANNE = {
    "name": "Anne Testeuse",
    "email": "anne.testeuse@exemple.fr",
    "organisation": "Mairie de Testville",
    "category": "elu",
    "consent": True,
}


@contextlib.asynccontextmanager
async def registration_api(
    url: str,
    tmp_path: Path,
    mailbox: Mailbox,
    *,
    now: datetime = BEFORE,
    programme: dict[str, Any] = WORKSHOPS,
    **options: Any,
) -> AsyncIterator[tuple[Api, Clock]]:
    await migrate(url)
    await seed(url, programme_file(tmp_path, programme))
    clock = Clock(now)
    settings = Settings(
        database_url=url,
        smtp_url=mailbox.url,
        mail_from="Régie <regie@exemple.fr>",
        public_url=PAGES,
        registrations_per_address=options.pop("registrations_per_address", 1000),
        **options,
    )
    async with running_api(settings, clock=clock) as api:
        yield api, clock


@pytest.fixture
async def api_clock(sqlite_url: str, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[tuple[Api, Clock]]:
    async with registration_api(sqlite_url, tmp_path, mailbox) as running:
        yield running


async def register(api: Api, **fields: Any) -> Any:
    return await api.client.post(f"/api/v1/events/{SLUG}/registrations", json={**ANNE, **fields})


async def test_registering_answers_a_personal_link_and_mails_it_with_an_invitation(
    api_clock: tuple[Api, Clock], mailbox: Mailbox
) -> None:
    api, _ = api_clock
    answer = await register(api)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    token = body["token"]
    assert body == {
        "id": body["id"],
        "status": "registered",
        "token": token,
        "manage_url": f"{PAGES}/inscription/{token}",
    }
    mine = await api.client.get(f"/api/v1/registrations/{token}")
    assert mine.headers["cache-control"] == "no-store"
    assert mine.json() == {
        "id": body["id"],
        "event": SLUG,
        "name": "Anne Testeuse",
        "email": "anne.testeuse@exemple.fr",
        "organisation": "Mairie de Testville",
        "category": "elu",
        "created_at": "2030-02-20T09:00:00Z",
        "signups": [],
    }
    event = (await api.client.get(f"/api/v1/events/{SLUG}")).json()
    assert event["registered_count"] == 1 and event["registration_open"] is True

    [mail] = await mailbox.wait_for("anne.testeuse@exemple.fr")
    assert mail.subject == "Inscription confirmée — Rencontre d'essai"
    assert mail.message["From"] == "Régie <regie@exemple.fr>"
    assert mail.text.startswith(
        "Bonjour Anne Testeuse,\n\nVotre inscription à « Rencontre d'essai » est enregistrée."
    )
    assert "Quand : vendredi 1er mars 2030, 9 h 00 – 12 h 00 (heure de Europe/Paris)" in mail.text
    assert f"{PAGES}/inscription/{token}" in mail.links()
    assert f"Annuler votre inscription : {PAGES}/inscription/{token}/annulation" in mail.text
    [invitation] = mail.attachments()
    assert invitation.get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(invitation.get_content())
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["summary"]) == "Rencontre d'essai"
    assert vevent.decoded("dtstart") == datetime(2030, 3, 1, 8, tzinfo=UTC)


async def test_an_address_registered_already_gets_its_link_by_mail_never_in_the_answer(
    api_clock: tuple[Api, Clock], mailbox: Mailbox
) -> None:
    api, _ = api_clock
    first = (await register(api)).json()
    again = await register(api, email="Anne.Testeuse@exemple.fr", name="Quelqu'un d'autre")
    stranger = await register(api, email="personne@exemple.fr", website="http://spam.example")
    assert again.status_code == 202 and stranger.status_code == 202
    assert (
        again.json()
        == stranger.json()
        == {"detail": "If this address is registered for this event, its personal link has been e-mailed."}
    )
    assert first["token"] not in again.text
    mails = await mailbox.wait_for("anne.testeuse@exemple.fr", count=2)
    assert mails[1].subject == "Votre lien — Rencontre d'essai"
    assert mails[1].text.startswith("Bonjour Anne Testeuse,")  # the registration's name, not the form's
    new_link = next(link for link in mails[1].links() if "/inscription/" in link and "annulation" not in link)
    new_token = new_link.rsplit("/", 1)[1]
    assert new_token != first["token"]
    for token in (first["token"], new_token):  # the earlier link keeps working
        assert (await api.client.get(f"/api/v1/registrations/{token}")).json()["id"] == first["id"]
    assert mailbox.to("personne@exemple.fr") == []  # the honeypot stored and sent nothing
    assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registered_count"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "pas-une-adresse"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"organisation": "o" * 201}, "organisation"),
        ({"category": "lobby"}, "category"),
        ({"consent": False}, "consent"),
        ({"name": "Anne\u0000"}, "name"),
    ],
)
async def test_a_malformed_form_is_refused_naming_its_field_and_nothing_is_stored(
    api_clock: tuple[Api, Clock], mailbox: Mailbox, fields: dict[str, Any], field: str
) -> None:
    api, _ = api_clock
    answer = await register(api, **fields)
    assert answer.status_code == 422
    assert answer.json()["errors"][0].startswith(f"body.{field}")
    assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registered_count"] == 0
    assert mailbox.received == []


async def test_registration_closes_when_the_show_ends(api_clock: tuple[Api, Clock]) -> None:
    api, clock = api_clock
    clock.now = datetime(2030, 3, 1, 8, tzinfo=UTC)
    for version, action in enumerate(("start", "end")):
        assert (await api.control(action, version, slug=SLUG)).status_code == 200
    answer = await register(api)
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "The show has ended: registration is closed.",
        "code": "registration_closed",
    }
    assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registration_open"] is False


async def test_one_address_may_register_only_so_often(
    sqlite_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    async with registration_api(sqlite_url, tmp_path, mailbox, registrations_per_address=3) as (api, _):
        answers = [await register(api, email=f"p{n}@exemple.fr") for n in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        refused = answers[-1]
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 600
        assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registered_count"] == 3


async def test_cancelling_erases_the_registration(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    token = (await register(api)).json()["token"]
    assert (await api.client.delete(f"/api/v1/registrations/{token}")).status_code == 204
    gone = await api.client.get(f"/api/v1/registrations/{token}")
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_registration"
    assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registered_count"] == 0
    token = (await register(api)).json()["token"]  # the address may register anew
    assert (await api.client.get(f"/api/v1/registrations/{token}")).status_code == 200


async def test_a_person_corrects_their_registration(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    token = (await register(api)).json()["token"]
    changed = await api.client.patch(
        f"/api/v1/registrations/{token}", json={"name": "Anne T.", "category": "association"}
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["category"]) == ("Anne T.", "association")
    assert (
        await api.client.patch(f"/api/v1/registrations/{token}", json={"email": "x@y.fr"})
    ).status_code == 422


async def test_moderators_download_the_registrations(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    await register(api)
    await register(api, name='=HYPERLINK("http://x")', email="b@exemple.fr", organisation=None)
    for path in ("registrations", "registrations.csv", "registrations.xlsx"):
        assert (await api.client.get(f"/api/v1/events/{SLUG}/{path}")).status_code == 401
    headers = {"Authorization": f"Bearer {await api.token()}"}
    listed = (await api.client.get(f"/api/v1/events/{SLUG}/registrations", headers=headers)).json()
    assert [(r["name"], r["email"], r["signups"]) for r in listed] == [
        ("Anne Testeuse", "anne.testeuse@exemple.fr", []),
        ('=HYPERLINK("http://x")', "b@exemple.fr", []),
    ]
    answer = await api.client.get(f"/api/v1/events/{SLUG}/registrations.csv", headers=headers)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["id", "name", "email", "organisation", "category", "registered_at", "signups"]
    assert [row[1:5] for row in rows[1:]] == [
        ["Anne Testeuse", "anne.testeuse@exemple.fr", "Mairie de Testville", "elu"],
        ['\'=HYPERLINK("http://x")', "b@exemple.fr", "", "elu"],
    ]
    answer = await api.client.get(f"/api/v1/events/{SLUG}/registrations.xlsx", headers=headers)
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[2][1] == '=HYPERLINK("http://x")' and sheet.cell(3, 2).data_type == "s"
    assert values[1][1:3] == ["Anne Testeuse", "anne.testeuse@exemple.fr"]


async def test_registrations_are_erased_after_the_retention_period(
    sqlite_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    async with registration_api(sqlite_url, tmp_path, mailbox) as (api, clock):
        await register(api)
        clock.now = datetime(2030, 3, 1, 8, tzinfo=UTC)
        for version, action in enumerate(("start", "end")):
            assert (await api.control(action, version, slug=SLUG)).status_code == 200
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    try:
        ended = datetime(2030, 3, 1, 8, tzinfo=UTC)
        assert (
            await erase_expired(sessions, now=ended + timedelta(days=89), retention=timedelta(days=90)) == {}
        )
    finally:
        await engine.dispose()
    # At start-up, a server 91 days later erases them.
    clock = Clock(ended + timedelta(days=91))
    settings = Settings(database_url=sqlite_url, smtp_url=mailbox.url, public_url=PAGES)
    async with running_api(settings, clock=clock) as api:
        assert (await api.client.get(f"/api/v1/events/{SLUG}")).json()["registered_count"] == 0


async def test_regie_registrations_export_writes_the_list(
    api_clock: tuple[Api, Clock], tmp_path: Path
) -> None:
    api, _ = api_clock
    await register(api)
    env = regie_env(REGIE_DATABASE_URL=api.settings.database_url)
    done = await asyncio.to_thread(regie, "registrations", "export", SLUG, env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout.removeprefix("\ufeff"))))
    assert [row[1:5] for row in rows[1:]] == [
        ["Anne Testeuse", "anne.testeuse@exemple.fr", "Mairie de Testville", "elu"]
    ]
    target = tmp_path / "inscrits.xlsx"
    done = await asyncio.to_thread(
        regie, "registrations", "export", SLUG, "--format", "xlsx", "-o", str(target), env=env
    )
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None and sheet.cell(2, 3).value == "anne.testeuse@exemple.fr"
    unknown = await asyncio.to_thread(regie, "registrations", "export", "inconnu", env=env)
    assert unknown.returncode == 1 and unknown.stderr.startswith("regie registrations: ")
    purge = await asyncio.to_thread(regie, "registrations", "purge", env=env)
    assert purge.returncode == 0 and "erased 0 registration(s)" in purge.stdout


async def test_the_reminder_goes_once_before_the_start_and_not_after_it(
    sqlite_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    before = datetime(2030, 3, 1, 7, 30, tzinfo=UTC)  # half an hour before the 9 h start, Paris
    async with registration_api(sqlite_url, tmp_path, mailbox, now=before, reminder_poll_seconds=0.05) as (
        api,
        clock,
    ):
        clock.now = datetime(2030, 3, 1, 6, 0, tzinfo=UTC)  # two hours before: not yet
        await register(api)
        await asyncio.sleep(0.3)
        assert [m.subject for m in mailbox.to(ANNE["email"])] == ["Inscription confirmée — Rencontre d'essai"]
        clock.now = before
        mails = await mailbox.wait_for(ANNE["email"], count=2)
        assert mails[1].subject == "Rappel : « Rencontre d'essai » commence à 9 h 00"
        assert "Vos ateliers" not in mails[1].text and "Annuler votre inscription" in mails[1].text
        await asyncio.sleep(0.3)  # many more rounds: still one reminder
        # Registering once the reminders went: at once; once the show has started: never.
        await register(api, email="tard@exemple.fr")
        assert (await mailbox.wait_for("tard@exemple.fr", count=2))[1].subject.startswith("Rappel")
        clock.now = datetime(2030, 3, 1, 8, 1, tzinfo=UTC)
        assert (await api.control("start", 0, slug=SLUG)).status_code == 200
        await register(api, email="pendant@exemple.fr")
        await asyncio.sleep(0.3)
    assert len(mailbox.to(ANNE["email"])) == 2
    assert [m.subject for m in mailbox.to("pendant@exemple.fr")] == [
        "Inscription confirmée — Rencontre d'essai"
    ]
