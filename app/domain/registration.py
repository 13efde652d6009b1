"""What a registration form must hold, and when sign-up to a block of sessions is open: pure rules.

Personal data enters here and nowhere else: every field is bounded, the address is checked by
email-validator (syntax only: a DNS lookup per request would let anyone make the server query
any domain) and normalised, so that « Anne@Exemple.fr » and « anne@exemple.fr » are one person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.domain.refusals import Code, Refusal


class Category(StrEnum):
    ELU = "elu"
    ENTREPRISE = "entreprise"
    ASSOCIATION = "association"
    INSTITUTION = "institution"
    AUTRE = "autre"


class SignupStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"


def normalise_email(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid e-mail address: {error}") from None
    return checked.normalized


def email_key(address: str) -> str:
    """The address as registrations compare it: one registration per key and event."""
    return address.casefold()


Email = Annotated[
    str,
    Field(min_length=3, max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(normalise_email),
]
# Stripped of surrounding whitespace before the bounds; the pattern says so to clients (at least
# one visible character), so that a schema-valid body is never refused for being only spaces.
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"),
]


class RegistrationForm(BaseModel):
    """The body of `POST /events/{slug}/registrations`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: Name
    email: Email
    organisation: Name | None = None
    category: Category
    consent: Literal[True] = Field(
        description="Must be true: the person agrees that their name and e-mail are kept until "
        "the retention period after the event ends."
    )
    website: Annotated[str, Field(max_length=200)] = Field(
        default="",
        description="Leave empty. A field people do not see and bots fill in: a form with it filled "
        "is answered as if accepted, and nothing is stored.",
    )


class RegistrationChange(BaseModel):
    """The body of `PATCH /registrations/{token}`: what a person may correct on their page."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: Name | None = None
    organisation: Name | None = None
    category: Category | None = None


def check_signup_window(
    *, opens_at: datetime | None, closes_at: datetime | None, show_ended: bool, now: datetime
) -> None:
    """Refuse a sign-up (or a leave) outside the block's window, or once the show is over."""
    if show_ended:
        raise Refusal(Code.SIGNUP_CLOSED, "The show has ended: sign-up to its sessions is closed.")
    if opens_at is not None and now < opens_at:
        raise Refusal(
            Code.SIGNUP_CLOSED,
            f"Sign-up to these sessions opens at {_rfc3339(opens_at)}.",
            opens_at=_rfc3339(opens_at),
        )
    if closes_at is not None and now >= closes_at:
        raise Refusal(
            Code.SIGNUP_CLOSED,
            f"Sign-up to these sessions closed at {_rfc3339(closes_at)}.",
            closes_at=_rfc3339(closes_at),
        )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
