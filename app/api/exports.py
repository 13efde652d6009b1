"""Exports under `/api/v1/events/{slug}/`: one route per format, from `app.exports`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from app.api.caching import CONDITIONAL_READ, read_responses
from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.exports import EXPORTERS, ExportData, Exporter
from app.public import event_public, timeline_entry_public
from app.services import programmes

router = APIRouter(prefix="/events", tags=["exports"])


def page_url(public_url: str, slug: str) -> str:
    """The event's page for people, under the configured public base URL."""
    return f"{public_url.rstrip('/')}/events/{slug}"


async def export_data(
    request: Request, session: SessionDep, slug: str, now: datetime, public_url: str
) -> ExportData:
    programme = await programmes.load_programme(session, slug)
    entries = await programmes.load_timeline(session, programme.event)
    started_at = programme.run().started_at
    event = event_public(programme, now=now)
    return ExportData(
        event=event,
        timeline=tuple(timeline_entry_public(entry, started_at=started_at) for entry in entries),
        now=now,
        page_url=page_url(public_url, event.slug),
        api_base=str(request.base_url).rstrip("/"),
    )


def _add_route(exporter: Exporter) -> None:
    async def export(
        slug: str, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
    ) -> Response:
        body = exporter.render(await export_data(request, session, slug, clock(), settings.public_url))
        disposition = f'inline; filename="{slug}-{exporter.filename}"'
        return Response(body, media_type=exporter.media_type, headers={"Content-Disposition": disposition})

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
            404,
            ok={
                "description": f"The `{exporter.filename}` file.",
                "content": {media_type: {"schema": exporter.schema, "example": exporter.example}},
            },
        ),
        openapi_extra=CONDITIONAL_READ,
    )


for _exporter in EXPORTERS:
    _add_route(_exporter)
