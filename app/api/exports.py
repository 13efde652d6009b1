"""Exports under `/api/v1/events/{slug}/`: one route per format, from `app.exports`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from app.api.caching import CONDITIONAL_READ, read_responses
from app.api.deps import ClockDep, SessionDep, SettingsDep, oauth2_scheme
from app.config import Settings
from app.domain.refusals import Code, Refusal
from app.exports import EXPORTERS, ExportData, Exporter
from app.public import RESOURCE_PATH, event_public, timeline_entry_public
from app.services import audience, auth, programmes

router = APIRouter(prefix="/events", tags=["exports"])


def page_url(public_url: str, slug: str) -> str:
    """The event's page for people, under the configured public base URL."""
    return f"{public_url.rstrip('/')}/events/{slug}"


def documents_base(request: Request, settings: Settings) -> str:
    """Where the exports link uploaded documents: the pages' relay under the configured public
    URL, like every other link; without one, this API as the request reached it (as before)."""
    if "public_url" in settings.model_fields_set:
        return f"{settings.public_url.rstrip('/')}/resources/"
    return f"{str(request.base_url).rstrip('/')}{RESOURCE_PATH}"


async def export_data(
    request: Request, session: SessionDep, slug: str, now: datetime, settings: Settings
) -> ExportData:
    programme = await programmes.load_programme(session, slug)
    entries = await programmes.load_timeline(session, programme.event)
    started_at = programme.run().started_at
    event = event_public(programme, now=now)
    return ExportData(
        event=event,
        timeline=tuple(timeline_entry_public(entry, started_at=started_at) for entry in entries),
        now=now,
        page_url=page_url(settings.public_url, event.slug),
        documents_base=documents_base(request, settings),
    )


async def _moderator_asks(request: Request, session: SessionDep, now: datetime) -> bool:
    """Whether the request carries a moderator's bearer (401/403 for a bearer that is not one)."""
    token = await oauth2_scheme(request)
    if not token:
        return False
    user = await auth.user_for_token(session, token, now=now.astimezone(UTC))
    if user is None:
        raise Refusal(Code.UNAUTHENTICATED, "This bearer token is not valid: ask without it, or log in.")
    if user.role not in auth.CONTROL_ROLES:
        raise Refusal(Code.FORBIDDEN, f"Your role « {user.role} » may not read the audience.")
    return True


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _add_route(exporter: Exporter) -> None:
    async def export(
        slug: str, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
    ) -> Response:
        now = clock()
        data = await export_data(request, session, slug, now, settings)
        headers = {"Content-Disposition": f'inline; filename="{slug}-{exporter.filename}"'}
        if exporter.with_audience and await _moderator_asks(request, session, now):
            rows = await audience.curve(session, slug)
            curve = tuple((_utc(row.minute), row.viewers) for row in rows)
            data = dataclasses.replace(data, audience=curve)
            # A moderator's file: never kept by a shared cache, nor served to anyone else.
            headers.update({"Cache-Control": "private, no-store", "Vary": "Authorization"})
        body = exporter.render(data)
        return Response(body, media_type=exporter.media_type, headers=headers)

    media_type = exporter.media_type.split(";")[0]
    router.add_api_route(
        f"/{{slug}}/{exporter.filename}",
        export,
        methods=["GET"],
        response_class=Response,
        name=f"export_{exporter.filename.replace('.', '_')}",
        summary=exporter.summary,
        description=exporter.description,
        responses=read_responses(
            *((401, 403, 404) if exporter.with_audience else (404,)),
            ok={
                "description": f"The `{exporter.filename}` file.",
                "content": {media_type: {"schema": exporter.schema, "example": exporter.example}},
            },
        ),
        openapi_extra=CONDITIONAL_READ,
    )


for _exporter in EXPORTERS:
    _add_route(_exporter)
