"""Audience questions on the pages: the public list and the moderators' queue, each rendered once.

Each event's hub (`frontend.live`) has a `QuestionDesk`. The public list arrives pushed
(`{"type": "questions"}`, at most once a second): the desk renders it once into the
`#live-questions` fragment, sent to every public viewer as a message of its own, so that the
live state's message keeps its size. The moderators' queue holds pending questions, which never
travel on a public link: the backend only signals that it changed (`{"type": "moderation"}`, to
this frontend's own subscription), and the desk then reads it once, with the bearer of one of
the moderators whose console is open here, renders it once and pushes it to every console.
A burst of signals while a read is in flight costs one more read, not one per signal.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from frontend.client import ApiClient, ApiError
from frontend.models import Question
from frontend.moderators import ConsoleReader, ModeratorBearers, Refused
from frontend.render import Renderer

logger = logging.getLogger(__name__)

VOTER_COOKIE = "regie_voter"
TEXT_MAX = 500
NAME_MAX = 60
ORGANISATION_MAX = 58
"""A name and an organisation joined by « , » fit the API's 120 characters of `author`."""

STATUS_LABELS = {"on_air": "À l'antenne", "answered": "Répondue", "approved": "Retenue"}
CONSOLE_GROUPS = (
    ("pending", "En attente"),
    ("on_air", "À l'antenne"),
    ("approved", "Approuvées"),
    ("answered", "Répondues"),
    ("rejected", "Rejetées"),
)

Publish = Callable[[str, str], None]
"""Sends a rendered fragment to every viewer of an audience (`public`, `console`)."""


def new_voter_id() -> str:
    """The id a browser keeps in its cookie: random, matching the API's `voter` pattern."""
    return secrets.token_urlsafe(18)


def plausible_voter(value: str | None) -> bool:
    return value is not None and 8 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


def author_of(name: str, organisation: str) -> str | None:
    """How the question is signed: « Marie, Mairie de Riom », either part, or nobody."""
    parts = [part for part in (" ".join(name.split()), " ".join(organisation.split())) if part]
    return ", ".join(parts) or None


def questions_path(slug: str) -> str:
    return "/api/v1/events/" + quote(slug, safe="") + "/questions"


def parse_questions(payload: Any) -> list[Question]:
    if not isinstance(payload, list):
        return []
    return [Question.model_validate(entry) for entry in payload if isinstance(entry, dict)]


def console_groups(questions: list[Question]) -> list[tuple[str, str, list[Question]]]:
    """The moderation column: waiting first (oldest first), then by status, most voted first."""
    groups = []
    for status, title in CONSOLE_GROUPS:
        members = [q for q in questions if q.status == status]
        if status == "pending":
            members.sort(key=lambda q: (q.created_at, q.id))
        else:
            members.sort(key=lambda q: (-q.votes, q.created_at, q.id))
        groups.append((status, title, members))
    return groups


PUBLIC_SHOWN = 30
"""Questions in the live page's list: the most voted (and the one on air). The list goes to every
viewer once a second while votes flow; 300 questions would make each message ten times larger
for lines nobody scrolls to."""


def shown(questions: list[Question], limit: int = PUBLIC_SHOWN) -> list[Question]:
    """The first `limit` of a most-voted-first list, the question on air always among them."""
    top = questions[:limit]
    aired = next((q for q in questions[limit:] if q.status == "on_air"), None)
    return [aired, *top[: limit - 1]] if aired is not None else top


def render_public(
    renderer: Renderer, *, slug: str, questions: list[Question], zone: ZoneInfo, total: int | None = None
) -> str:
    """`total`: how many public questions there are, when `questions` is the pushed top only."""
    context = {
        "slug": slug,
        "questions": shown(questions),
        "total": max(total or 0, len(questions)),
        "zone": zone,
        "status_labels": STATUS_LABELS,
    }
    return renderer.blocks("_questions.html", ["questions_list"], context)


def render_console(renderer: Renderer, *, slug: str, questions: list[Question] | None, zone: ZoneInfo) -> str:
    """The moderation column; `questions` None when the queue could not be read."""
    context = {
        "slug": slug,
        "groups": console_groups(questions) if questions is not None else None,
        "zone": zone,
    }
    return renderer.env.get_template("_console_questions.html").render(context)


class QuestionDesk:
    """One event's questions in this process: the public fragment and the consoles' queue (read
    with the bearer of a console open here, `frontend.moderators`)."""

    def __init__(
        self,
        slug: str,
        *,
        api: ApiClient,
        renderer: Renderer,
        publish: Publish,
        bearers: ModeratorBearers,
        zone: Callable[[], ZoneInfo],
        ascii_html: Callable[[str], str],
    ) -> None:
        self.slug = slug
        self._api = api
        self._renderer = renderer
        self._publish = publish
        self._zone = zone
        self._ascii = ascii_html
        self.public: list[Question] | None = None
        self.public_total = 0
        self._public_seq = 0
        self._public_read: asyncio.Future[list[Question]] | None = None
        self.messages: dict[str, str] = {}
        """The public list as last rendered, by audience (`public`)."""
        self.queue = ConsoleReader("questions queue", bearers, read=self._read_queue, publish=publish)

    # --- the public list -----------------------------------------------------------------------

    def take_public(self, questions: list[Question], total: int) -> None:
        """A pushed list: rendered once, sent to every public viewer; the consoles re-read."""
        self._public_seq += 1
        self.public, self.public_total = questions, total
        self._render_public()
        self.queue_changed()

    def _render_public(self) -> None:
        assert self.public is not None
        html = self._ascii(
            render_public(
                self._renderer,
                slug=self.slug,
                questions=self.public,
                zone=self._zone(),
                total=self.public_total,
            )
        )
        if html != self.messages.get("public"):
            self.messages["public"] = html
            self._publish("public", html)

    async def public_list(self) -> list[Question]:
        """The list a page starts with: the pushed one, else one read shared by every page."""
        if self.public is not None:
            return self.public
        if self._public_read is None:
            self._public_read = asyncio.ensure_future(self._read_public())
            self._public_read.add_done_callback(lambda _: setattr(self, "_public_read", None))
        return await asyncio.shield(self._public_read)

    async def _read_public(self) -> list[Question]:
        seq = self._public_seq
        answer = await self._api.relay("GET", questions_path(self.slug))
        questions = parse_questions(answer.json()) if answer.status_code == 200 else []
        # A list pushed during the read is newer than what the read saw.
        if self._public_seq == seq and answer.status_code == 200:
            self.public, self.public_total = questions, len(questions)
            self._render_public()
        return self.public if self.public is not None else questions

    # --- the moderators' queue -----------------------------------------------------------------

    def queue_changed(self) -> None:
        """Read the queue again, once, if a console is open here."""
        self.queue.changed()

    async def _read_queue(self, token: str) -> str | None:
        try:
            answer = await self._api.relay(
                "GET", questions_path(self.slug), headers={"Authorization": f"Bearer {token}"}
            )
        except ApiError:
            return None
        if answer.status_code in (401, 403):
            raise Refused
        if answer.status_code != 200:
            return None
        try:
            questions = parse_questions(answer.json())
        except (ValueError, ValidationError):
            return None
        return self._ascii(
            render_console(self._renderer, slug=self.slug, questions=questions, zone=self._zone())
        )

    async def stop(self) -> None:
        await self.queue.stop()
