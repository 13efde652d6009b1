"""Documents per item: uploaded by an admin, downloaded by anyone once the item is public.

The upload is read by hand rather than through FastAPI's `File`/`Form` parameters: FastAPI would
parse (and spool) the whole body before any check, and a file over the limit must be refused
from its `Content-Length`, before a byte of it is read.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response, status
from starlette.datastructures import UploadFile

from app.api.deps import Admin, SessionsDep, ShowsDep, SnapshotsDep
from app.api.errors import responses
from app.domain.refusals import Code, Refusal
from app.domain.resources import MAX_BYTES, file_type, too_large
from app.public import ResourcePublic, public_resources
from app.services import resources

router = APIRouter(tags=["resources"])

# Room for the multipart framing and the title around the file itself.
_FRAMING = 64 * 1024
ResourceId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "title"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "20 MB at most."},
                        "title": {"type": "string", "minLength": 1, "maxLength": 500},
                    },
                }
            }
        },
    }
}


@router.post(
    "/events/{slug}/items/{item_id}/resources",
    response_model=ResourcePublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 404, 413, 415, 422, 503),
    summary="Upload a document for an item: PDF, image or slide deck, 20 MB at most (admin)",
    description="The type is read from the file's content, not its name. A mystery item's documents "
    "stay hidden until its reveal.",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_resource(
    slug: str,
    item_id: Annotated[str, Path(max_length=80)],
    request: Request,
    shows: ShowsDep,
    admin: Admin,
) -> ResourcePublic:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise Refusal(Code.INVALID_REQUEST, "Send the file as multipart/form-data with a Content-Length.")
    if int(length) > MAX_BYTES + _FRAMING:
        raise too_large()
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Refusal(Code.UNSUPPORTED_MEDIA_TYPE, "Send the file as multipart/form-data (`file`, `title`).")
    async with request.form(max_files=1, max_fields=2) as form:
        upload, title = form.get("file"), form.get("title")
        if not isinstance(upload, UploadFile):
            raise Refusal(Code.INVALID_REQUEST, "The form needs a `file`.", field="file")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 500:
            raise Refusal(
                Code.INVALID_REQUEST, "The form needs a `title` of 1 to 500 characters.", field="title"
            )
        data = await upload.read(MAX_BYTES + 1)
    content_type = file_type(data)
    resource_id, programme = await shows.attach(
        slug, item_id, title=title.strip(), content_type=content_type, data=data, actor=admin.name
    )
    item = next(i for i in programme.items if i.id == item_id)
    return next(r for r in public_resources(programme, item) if r.id == resource_id)


@router.get(
    "/resources/{resource_id}",
    responses={
        200: {
            "description": "The file, with its type and a download name.",
            "content": {"application/pdf": {}},
        },
        **responses(404, 422, 503),
    },
    summary="Download an item's document",
)
async def get_resource(resource_id: ResourceId, sessions: SessionsDep, snapshots: SnapshotsDep) -> Response:
    resource = await resources.read_file(sessions, snapshots, resource_id)
    ascii_name = resource.filename.encode("ascii", "ignore").decode() or "document"
    return Response(
        resource.data,
        media_type=resource.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(resource.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@router.delete(
    "/resources/{resource_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 422, 503),
    summary="Remove an uploaded document (admin)",
)
async def delete_resource(
    resource_id: ResourceId,
    shows: ShowsDep,
    admin: Admin,
) -> Response:
    await shows.detach(resource_id, actor=admin.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
