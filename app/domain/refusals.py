"""Why Régie says no: the stable codes of every refusal, and the exception that carries one.

A refusal is part of the public contract (v1.1): clients translate the `code`, they never parse
the English `detail`. So the codes live here, in the domain, where the rules that refuse are,
and the web layer (`app.api.errors`) only decides which HTTP status each code gets. Adding a
code: add it to `Code` and give it a status in `app.api.errors.STATUS`; a test checks that every
code has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Every stable refusal code of the public contract, in snake_case."""

    # The request itself.
    INVALID_REQUEST = "invalid_request"
    INVALID_DOCUMENT = "invalid_document"
    TARGET_REQUIRED = "target_required"
    TARGET_NOT_ALLOWED = "target_not_allowed"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PRECONDITION_FAILED = "precondition_failed"
    RATE_LIMITED = "rate_limited"
    # What the request names.
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_ITEM = "unknown_item"
    UNKNOWN_REGISTRATION = "unknown_registration"
    UNKNOWN_SESSION = "unknown_session"
    # The show's state (the rules of `app.domain.show`).
    VERSION_CONFLICT = "version_conflict"
    NOT_STARTED = "not_started"
    ALREADY_LIVE = "already_live"
    ALREADY_ENDED = "already_ended"
    EMPTY_PROGRAMME = "empty_programme"
    FIRST_ITEM = "first_item"
    LAST_ITEM = "last_item"
    ALREADY_ON_AIR = "already_on_air"
    NOT_MYSTERY = "not_mystery"
    ALREADY_REVEALED = "already_revealed"
    # Programmes.
    LIVE_LOCKED = "live_locked"
    ITEM_STARTED = "item_started"
    UNKNOWN_REVISION = "unknown_revision"
    UNKNOWN_RESOURCE = "unknown_resource"
    # The audience.
    REGISTRATION_CLOSED = "registration_closed"
    SESSION_FULL = "session_full"
    SIGNUP_CLOSED = "signup_closed"
    UNKNOWN_QUESTION = "unknown_question"
    DUPLICATE_QUESTION = "duplicate_question"
    QUESTION_STATE = "question_state"
    # The server.
    DATABASE_UNAVAILABLE = "database_unavailable"
    INTERNAL_ERROR = "internal_error"


class Refusal(Exception):
    """A request Régie turns down, with its stable code and a sentence a person understands.

    `fields` are further members of the answer's body (the current `live` state of a conflict,
    the list of `errors` of a refused document); `headers` are those the answer must carry
    (`Retry-After`). Raised by domain and service code; answered by `app.api.errors`.
    """

    def __init__(
        self, code: Code, detail: str, *, headers: Mapping[str, str] | None = None, **fields: Any
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.fields = fields

    def body(self) -> dict[str, Any]:
        """The answer's JSON body: `detail`, `code`, then the extra fields."""
        return {"detail": self.detail, "code": self.code.value, **self.fields}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.detail!r})"


def quoted(value: str, limit: int = 80) -> str:
    """A value from the request, short enough to quote in a refusal (the rest elided)."""
    return value if len(value) <= limit else value[:limit] + "…"
