"""The consoles' registration counts: how many registered, and per session how many are confirmed
and waiting — counts only.

The backend pushes them to this frontend's own subscription on each change
(`{"type": "registrations", "registered": N, "sessions": {...}}`); each event's hub renders the
box once and sends it to every console. A console page that opens reads them once from the
moderators' list (`registration_counts`), which never leaves this module.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from frontend.client import ApiClient, ApiUnavailable
from frontend.models import Event
from frontend.render import Renderer

TEMPLATE = "_console_registrations.html"

SessionCounts = dict[str, dict[str, int]]
"""By session id: `{"confirmed": C, "waitlisted": W}`."""


def counts_view(event: Event, registered: int, sessions: SessionCounts) -> dict[str, Any]:
    """What the box shows: `{"total": N, "sessions": [{title, confirmed, waitlisted, capacity}]}`,
    every session of the programme in its order, those nobody chose at 0."""
    return {
        "total": registered,
        "sessions": [
            {
                "title": session.title,
                "confirmed": sessions.get(session.id, {}).get("confirmed", 0),
                "waitlisted": sessions.get(session.id, {}).get("waitlisted", 0),
                "capacity": session.capacity,
            }
            for item in event.items
            for session in item.sessions
        ],
    }


async def registration_counts(api: ApiClient, event: Event, token: str) -> dict[str, Any] | None:
    """The box's counts from the moderators' list, with `token`; None when it could not be read."""
    try:
        answer = await api.relay(
            "GET",
            f"/api/v1/events/{quote(event.slug, safe='')}/registrations",
            headers={"Authorization": f"Bearer {token}"},
        )
    except ApiUnavailable:
        return None
    if answer.status_code != 200:
        return None
    listed = answer.json()
    sessions: SessionCounts = {}
    for registration in listed:
        for signup in registration.get("signups", []):
            status = str(signup.get("status"))
            if status in ("confirmed", "waitlisted"):
                counted = sessions.setdefault(
                    str(signup.get("session_id")), {"confirmed": 0, "waitlisted": 0}
                )
                counted[status] += 1
    return counts_view(event, len(listed), sessions)


def render_counts(renderer: Renderer, *, slug: str, counts: dict[str, Any] | None) -> str:
    """The console's « Inscriptions » box; `counts` None says they are unavailable for now."""
    return renderer.env.get_template(TEMPLATE).render(slug=slug, counts=counts)
