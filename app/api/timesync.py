"""The server's clock, so that every screen counts down to the same second."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ClockDep

router = APIRouter(tags=["time"])


class ServerClock(BaseModel):
    """Named apart from its field: a generated client's `from_dict` binds both to one local name
    (`server_time = cls(server_time=server_time)`) and no longer type-checks."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"server_time": "2020-11-23T18:00:00.123456Z"}]}
    )

    server_time: datetime = Field(description="The server's clock when it answered (UTC).")


@router.get(
    "/time",
    response_model=ServerClock,
    summary="The server's clock",
    description="For a browser to measure its clock's offset to the server's: note the local time "
    "before (t0) and after (t1) the request; the offset is `server_time − (t0 + t1) / 2`, within half "
    "the round trip. Never cached (`Cache-Control: no-store`).",
    responses={
        200: {"headers": {"Cache-Control": {"description": "`no-store`", "schema": {"type": "string"}}}}
    },
)
async def get_time(clock: ClockDep, response: Response) -> ServerClock:
    response.headers["Cache-Control"] = "no-store"
    return ServerClock(server_time=clock())
