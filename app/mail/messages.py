"""The messages a registrant receives, in French, each with a plain text part and a cancel link.

Built from the stored rows only, by pure functions, so that tests read exactly what goes out.
French dates are written here rather than borrowed from the frontend: the backend never imports
the frontend, and these few lines are all the formatting a message needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

import icalendar

from app.models import Event, Registration

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


@dataclass(frozen=True)
class Links:
    """Where a message points: the frontend's pages, with this message's own personal token."""

    public_url: str
    slug: str
    token: str

    @property
    def event(self) -> str:
        return f"{self.public_url.rstrip('/')}/events/{self.slug}"

    @property
    def manage(self) -> str:
        return f"{self.public_url.rstrip('/')}/inscription/{self.token}"

    @property
    def cancel(self) -> str:
        return f"{self.manage}/annulation"


@dataclass(frozen=True)
class SessionInfo:
    title: str
    room_name: str
    room_url: str | None


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def french_date(moment: datetime) -> str:
    day = "1er" if moment.day == 1 else str(moment.day)
    return f"{DAYS[moment.weekday()]} {day} {MONTHS[moment.month - 1]} {moment.year}"


def french_time(moment: datetime) -> str:
    return f"{moment.hour} h {moment.minute:02d}"


def when(event: Event) -> str:
    start, end = local(event.starts_at, event.timezone), local(event.ends_at, event.timezone)
    return f"{french_date(start)}, {french_time(start)} – {french_time(end)} (heure de {event.timezone})"


def _message(
    kind: str, *, to: Registration, subject: str, body: str, links: Links, retention_days: int
) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to.email
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="regie")
    message["X-Regie-Kind"] = kind
    footer = (
        "\n\n-- \n"
        f"Annuler votre inscription : {links.cancel}\n"
        f"Votre nom, votre e-mail et votre organisation ne servent qu'à cet événement ; ils sont effacés "
        f"{retention_days} jours après sa fin, ou dès que vous annulez."
    )
    message.set_content(f"Bonjour {to.name},\n\n{body}{footer}\n")
    return message


def confirmation(
    event: Event, registration: Registration, links: Links, *, retention_days: int, again: bool = False
) -> EmailMessage:
    """The personal link, and the event as an .ics invitation."""
    intro = (
        f"Voici de nouveau le lien de votre inscription à « {event.title} »."
        if again
        else f"Votre inscription à « {event.title} » est enregistrée."
    )
    body = (
        f"{intro}\n\n"
        f"Quand : {when(event)}\n"
        f"Suivre le direct : {links.event}\n\n"
        f"Votre page personnelle, pour modifier vos informations et choisir vos ateliers :\n{links.manage}"
    )
    subject = f"{'Votre lien' if again else 'Inscription confirmée'} — {event.title}"
    message = _message(
        "confirmation",
        to=registration,
        subject=subject,
        body=body,
        links=links,
        retention_days=retention_days,
    )
    message.add_attachment(
        invitation(event, links),
        maintype="text",
        subtype="calendar",
        filename=f"{event.slug}.ics",
        params={"method": "PUBLISH"},
    )
    return message


def invitation(event: Event, links: Links) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Régie//Régie 1.0.0//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    vevent = icalendar.Event()
    vevent.add("uid", f"{event.slug}@regie")
    vevent.add("dtstamp", event.updated_at.astimezone(UTC))
    vevent.add("dtstart", local(event.starts_at, event.timezone))
    vevent.add("dtend", local(event.ends_at, event.timezone))
    vevent.add("summary", event.title)
    vevent.add("description", f"Suivre le direct : {links.event}\nVotre inscription : {links.manage}")
    vevent.add("url", links.event)
    vevent.add("location", event.location or links.event)
    calendar.add_component(vevent)
    calendar.add_missing_timezones()
    body: bytes = calendar.to_ical()
    return body


def _room(session: SessionInfo) -> str:
    return f"Salle : {session.room_name}" + (
        f"\nLien de la salle : {session.room_url}" if session.room_url else ""
    )


def signup(
    event: Event,
    registration: Registration,
    session: SessionInfo,
    links: Links,
    *,
    waitlist_position: int | None,
    retention_days: int,
) -> EmailMessage:
    if waitlist_position is None:
        subject = f"Atelier « {session.title} » : votre place est confirmée"
        body = (
            f"Votre place à l'atelier « {session.title} » ({event.title}) est confirmée.\n\n"
            f"{_room(session)}\n\n"
            f"Changer d'atelier ou vous désinscrire : {links.manage}"
        )
    else:
        subject = f"Atelier « {session.title} » : liste d'attente"
        body = (
            f"L'atelier « {session.title} » ({event.title}) est complet : vous êtes n° {waitlist_position} "
            "sur la liste d'attente. Si une place se libère, elle vous est attribuée dans l'ordre d'arrivée "
            f"et vous recevez un e-mail.\n\nChanger d'atelier : {links.manage}"
        )
    return _message(
        "signup", to=registration, subject=subject, body=body, links=links, retention_days=retention_days
    )


def promotion(
    event: Event, registration: Registration, session: SessionInfo, links: Links, *, retention_days: int
) -> EmailMessage:
    subject = f"Une place s'est libérée : atelier « {session.title} »"
    body = (
        f"Une place s'est libérée à l'atelier « {session.title} » ({event.title}) : vous quittez la liste "
        f"d'attente, votre place est confirmée.\n\n{_room(session)}\n\nVotre page : {links.manage}"
    )
    return _message(
        "promotion", to=registration, subject=subject, body=body, links=links, retention_days=retention_days
    )


def reminder(
    event: Event,
    registration: Registration,
    sessions: list[SessionInfo],
    links: Links,
    *,
    retention_days: int,
) -> EmailMessage:
    start = local(event.starts_at, event.timezone)
    subject = f"Rappel : « {event.title} » commence à {french_time(start)}"
    lines = [f"« {event.title} » commence bientôt : {when(event)}.", "", f"Suivre le direct : {links.event}"]
    if sessions:
        lines += ["", "Vos ateliers :"] + [f"• {s.title} — {_room(s)}".replace("\n", " — ") for s in sessions]
    lines += ["", f"Votre page : {links.manage}"]
    return _message(
        "reminder",
        to=registration,
        subject=subject,
        body="\n".join(lines),
        links=links,
        retention_days=retention_days,
    )
