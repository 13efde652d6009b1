"""Audience questions: what a viewer may ask, and what each moderation action does — pure rules.

A question is stored `pending`, `approved`, `rejected` or `answered`. Being on air is not a
stored status of the question but a part of the show's run (`Run.question`): the run is one row
changed by one conditional UPDATE per version, so « at most one question on air » holds by
construction, across processes, and a question on air is a change of the show like a press
(version + 1, a timeline entry). Reads report `on_air` for the question the run carries.

No I/O here: the service loads the question and the run, asks `moderate()` what happens, and
commits the answer in one transaction.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from app.domain.refusals import Code, Refusal
from app.domain.show import Status

TEXT_MAX = 500
AUTHOR_MAX = 120
VOTER_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


class QuestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    ON_AIR = "on_air"
    """Only ever reported, never stored: see the module docstring."""


PUBLIC_STATUSES = frozenset({QuestionStatus.APPROVED, QuestionStatus.ANSWERED, QuestionStatus.ON_AIR})
"""What anyone may read. A pending or rejected question never leaves the moderators' queue."""


class ModerationAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ANSWER = "answer"
    ON_AIR = "on_air"
    OFF_AIR = "off_air"


class AirChange(StrEnum):
    """What a moderation action does to the show's question on air."""

    NONE = "none"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Decision:
    status: QuestionStatus
    """The question's stored status after the action (never ON_AIR)."""
    air: AirChange


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str, *, field: str, max_length: int) -> str:
    """The text as it will be stored and shown: NFC, one space between words, no control characters.

    Whitespace is collapsed because a question ends up on one line of a lower third; invisible
    and bidirectional control characters are refused rather than stripped, so that what a
    moderator approves is exactly what viewers read.
    """
    text = unicodedata.normalize("NFC", value)
    if _CONTROL.search(text.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
        raise ValueError(f"`{field}` contains control or invisible characters")
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_length:
        raise ValueError(f"`{field}` is {len(text)} characters long; at most {max_length}")
    return text


def duplicate_key(text: str) -> str:
    """What makes two questions of one viewer the same: letters and digits, case and accents aside."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in folded if c.isalnum())
    return hashlib.sha256(letters.encode()).hexdigest()


def asking_allowed(show_status: Status) -> None:
    """Questions are taken before and during the show, not after it."""
    if show_status is Status.ENDED:
        raise Refusal(Code.ALREADY_ENDED, "The show has ended: it takes no more questions.")


def moderate(
    status: QuestionStatus, *, on_air: bool, action: ModerationAction, show_status: Status
) -> Decision:
    """What `action` does to a question stored with `status` (on air or not), or a Refusal.

    - approve: a pending, rejected or answered question becomes public (again) as approved;
    - reject: out of the public list, and off air if it was on;
    - answer: approved → answered, and off air if it was on (« done with this one »);
    - on_air: an approved or answered question goes on air, replacing the one there; the show
      must be live;
    - off_air: only the question on air; it stays in the list with its status.
    """
    if status is QuestionStatus.ON_AIR:
        raise ValueError("ON_AIR is never a stored status")
    off = AirChange.OFF if on_air else AirChange.NONE
    if action is ModerationAction.APPROVE:
        if status is QuestionStatus.APPROVED:
            raise Refusal(Code.QUESTION_STATE, "This question is already approved.")
        return Decision(QuestionStatus.APPROVED, AirChange.NONE)
    if action is ModerationAction.REJECT:
        if status is QuestionStatus.REJECTED:
            raise Refusal(Code.QUESTION_STATE, "This question is already rejected.")
        return Decision(QuestionStatus.REJECTED, off)
    if action is ModerationAction.ANSWER:
        if status is not QuestionStatus.APPROVED:
            raise Refusal(
                Code.QUESTION_STATE, f"Only an approved question can be answered; this one is {status}."
            )
        return Decision(QuestionStatus.ANSWERED, off)
    if action is ModerationAction.ON_AIR:
        if on_air:
            raise Refusal(Code.QUESTION_STATE, "This question is already on air.")
        if status not in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED):
            raise Refusal(
                Code.QUESTION_STATE, f"Only an approved question can go on air; this one is {status}."
            )
        if show_status is Status.SCHEDULED:
            raise Refusal(Code.NOT_STARTED, "The show has not started yet: questions go on air during it.")
        if show_status is Status.ENDED:
            raise Refusal(Code.ALREADY_ENDED, "The show has ended: nothing goes on air any more.")
        return Decision(status, AirChange.ON)
    if not on_air:
        raise Refusal(Code.QUESTION_STATE, "This question is not on air.")
    return Decision(status, AirChange.OFF)


def reported_status(stored: QuestionStatus, *, on_air: bool) -> QuestionStatus:
    return QuestionStatus.ON_AIR if on_air else stored
