"""The consoles' registration counts: how many registered, and per session how many are confirmed
and waiting — counts only, from the moderators' list, which never leaves this module.

The backend signals a change (`{"type": "registrations"}`, to this frontend's own subscription);
each event's hub then reads the counts once with the bearer of a console open here
(`frontend.moderators`) and pushes the box to every console, instead of each console polling.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from frontend.client import ApiClient, ApiUnavailable
from frontend.models import Event
from frontend.moderators import Refused
from frontend.render import Renderer

TEMPLATE = "_console_registrations.html"


async def registration_counts(api: ApiClient, event: Event, token: str) -> dict[str, Any] | None:
    """`{"total": N, "sessions": [{title, confirmed, waitlisted, capacity}]}`; None when the list
    could not be read. Raises `Refused` when the API refuses this bearer."""
    try:
        answer = await api.relay(
            "GET",
            f"/api/v1/events/{quote(event.slug, safe='')}/registrations",
            headers={"Authorization": f"Bearer {token}"},
        )
    except ApiUnavailable:
        return None
    if answer.status_code in (401, 403):
        raise Refused
    if answer.status_code != 200:
        return None
    listed = answer.json()
    tally: dict[tuple[str, str], int] = {}
    for registration in listed:
        for signup in registration.get("signups", []):
            key = (str(signup.get("session_id")), str(signup.get("status")))
            tally[key] = tally.get(key, 0) + 1
    sessions = [
        {
            "title": session.title,
            "confirmed": tally.get((session.id, "confirmed"), 0),
            "waitlisted": tally.get((session.id, "waitlisted"), 0),
            "capacity": session.capacity,
        }
        for item in event.items
        for session in item.sessions
    ]
    return {"total": len(listed), "sessions": sessions}


def render_counts(renderer: Renderer, *, slug: str, counts: dict[str, Any] | None) -> str:
    """The console's « Inscriptions » box; `counts` None says they are unavailable for now."""
    return renderer.env.get_template(TEMPLATE).render(slug=slug, counts=counts)
