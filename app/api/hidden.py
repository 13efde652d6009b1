"""What moderators may see before a reveal: the hidden guests and announcement of each mystery item.

The only read that carries secrets, so it is kept apart from `app.public` (the one exit for
public data) and from every cache: a moderator or admin bearer token is required, the answer
is `Cache-Control: no-store` (the conditional-GET middleware then adds no validator, so no
digest of the secret leaves either), it is never part of a snapshot, a broadcast or an export,
and nothing of it is logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Moderator, SessionDep
from app.api.errors import responses
from app.public import SpeakerPublic
from app.services import programmes

router = APIRouter(prefix="/events", tags=["control"])

NO_STORE = "no-store"


class HiddenItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The mystery item's id.")
    speakers: list[SpeakerPublic] = Field(description="Whom the reveal will show.")
    announcement: str | None = Field(description="What the reveal will announce.")


class HiddenItems(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[HiddenItem] = Field(description="Every mystery item, revealed or not, in programme order.")


@router.get(
    "/{slug}/hidden",
    response_model=HiddenItems,
    responses={
        200: {
            "description": "The secrets of every mystery item. Sent with `Cache-Control: no-store`.",
            "content": {
                "application/json": {
                    "example": {
                        "items": [
                            {
                                "id": "invite-mystere-1",
                                "speakers": [{"name": "Jeanne Exemple", "role": None, "organisation": None}],
                                "announcement": None,
                            }
                        ]
                    }
                }
            },
            "headers": {"Cache-Control": {"description": "`no-store`.", "schema": {"type": "string"}}},
        },
        **responses(401, 403, 404, 503),
    },
    summary="The hidden guests and announcements of the mystery items (moderator or admin)",
)
async def get_hidden(slug: str, session: SessionDep, _user: Moderator, response: Response) -> HiddenItems:
    response.headers["Cache-Control"] = NO_STORE
    programme = await programmes.load_programme(session, slug)
    return HiddenItems(
        items=[
            HiddenItem(
                id=item.id,
                speakers=[SpeakerPublic.model_validate(s) for s in item.hidden_speakers],
                announcement=item.hidden_announcement,
            )
            for item in programme.items
            if item.mystery
        ]
    )
