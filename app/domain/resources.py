"""Which files may be handed out with an item: PDF, images and slide decks, known by their bytes.

The type is read from the content (`filetype`, which knows the magic numbers of each format),
never from the name or the type the browser claims: an executable renamed `.pdf` stays an
executable. SVG is not offered: it is a document that can carry script.
"""

from __future__ import annotations

import filetype

from app.domain.programme import slugify
from app.domain.refusals import Code, Refusal

MAX_BYTES = 20 * 1024 * 1024

# Each accepted type, with the extension its download name gets.
ACCEPTED: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.ms-powerpoint": "ppt",
}


def file_type(data: bytes) -> str:
    """The accepted type of `data`, or Refusal(unsupported_media_type)."""
    if not data:
        raise Refusal(Code.INVALID_REQUEST, "The file is empty.", field="file")
    if len(data) > MAX_BYTES:
        raise too_large()
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ACCEPTED:
        found = f"it looks like {kind.mime}" if kind is not None else "its type is not recognised"
        raise Refusal(
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"Only PDF, images (JPEG, PNG, GIF, WebP) and slide decks (PPTX, ODP, PPT) can be shared; "
            f"{found}.",
            field="file",
        )
    mime: str = kind.mime
    return mime


def too_large() -> Refusal:
    return Refusal(
        Code.PAYLOAD_TOO_LARGE, f"A file may be {MAX_BYTES // (1024 * 1024)} MB at most.", field="file"
    )


def download_name(title: str, content_type: str) -> str:
    return f"{slugify(title, fallback='document', limit=80)}.{ACCEPTED[content_type]}"
