"""The organiser's side of a programme: its document as saved, its revisions, and undo.

`GET …/document` is the programme document itself, secrets included, for admins only: what the
editor edits and what its YAML export writes (so that `regie import` reads it back identical,
rooms' private links and mystery guests included). Never cached, never public.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, Field

from app.api.caching import IF_MATCH, expected_revisions, programme_etag
from app.api.deps import Admin, ClockDep, SessionDep, SessionsDep, ShowsDep
from app.api.errors import responses
from app.api.events import saved_response
from app.models import ProgrammeRevision
from app.public import EventPublic
from app.services import editing, programmes

router = APIRouter(prefix="/events", tags=["editing"])

NO_STORE = "no-store"


class RevisionSummary(BaseModel):
    number: int
    saved_at: datetime
    actor: str | None = Field(description="Who saved it (null: `regie import`).")
    changes: dict[str, Any] | None = Field(description="What it changed, by id; null for the first.")
    restored_from: int | None = Field(description="The revision it restored, for an undo.")
    current: bool


def _summary(revision: ProgrammeRevision, current: int) -> RevisionSummary:
    return RevisionSummary(
        number=revision.number,
        saved_at=revision.saved_at,
        actor=revision.actor,
        changes=revision.changes,
        restored_from=revision.restored_from,
        current=revision.number == current,
    )


@router.get(
    "/{slug}/document",
    responses={
        200: {"description": "The programme document, as `regie import` reads it (secrets included)."},
        **responses(401, 403, 404, 503),
    },
    summary="The programme document as saved, secrets included (admin)",
)
async def get_document(slug: str, session: SessionDep, _admin: Admin) -> Response:
    programme = await programmes.load_programme(session, slug)
    document = await programmes.current_document(session, programme.event)
    body = document.model_dump_json().encode()
    return Response(
        body,
        media_type="application/json",
        headers={"ETag": programme_etag(programme.event.revision, body), "Cache-Control": NO_STORE},
    )


@router.get(
    "/{slug}/revisions",
    response_model=list[RevisionSummary],
    responses=responses(401, 403, 404, 503),
    summary="The programme's saved revisions, newest first (admin)",
)
async def list_revisions(
    slug: str, session: SessionDep, response: Response, _admin: Admin
) -> list[RevisionSummary]:
    programme = await programmes.load_programme(session, slug)
    revisions = await programmes.list_revisions(session, programme.event)
    response.headers["Cache-Control"] = NO_STORE
    return [_summary(revision, programme.event.revision) for revision in revisions]


@router.post(
    "/{slug}/revisions/{number}/restore",
    response_model=EventPublic,
    responses=responses(401, 403, 404, 409, 412, 422, 503),
    summary="Undo: save an earlier revision again (admin)",
    description="A new save of that revision's document, judged like any other: 409 `item_started` if "
    "it would change what has aired since. `If-Match` as for `PUT`.",
    openapi_extra={"parameters": [IF_MATCH]},
)
async def restore_revision(
    slug: str,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    sessions: SessionsDep,
    shows: ShowsDep,
    clock: ClockDep,
    response: Response,
    admin: Admin,
    if_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> EventPublic:
    saved, programme = await editing.restore(
        shows, sessions, slug, number, actor=admin.name, expected_revisions=expected_revisions(if_match)
    )
    return saved_response(saved, programme, now=clock(), response=response)
