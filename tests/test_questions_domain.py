"""The rules of audience questions, on their own: cleaning, duplicates, moderation, on air in the run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain import show
from app.domain.questions import (
    AirChange,
    Decision,
    ModerationAction,
    QuestionStatus,
    clean_text,
    duplicate_key,
    moderate,
)
from app.domain.refusals import Code, Refusal

AT = datetime(2020, 11, 23, 18, 5, tzinfo=UTC)
PLAN = show.Plan(
    segments=(show.PlannedSegment("s", AT, AT.replace(hour=19)),),
    items=(show.PlannedItem("a", "s"), show.PlannedItem("b", "s")),
)

A, R, AN, P = (
    QuestionStatus.APPROVED,
    QuestionStatus.REJECTED,
    QuestionStatus.ANSWERED,
    QuestionStatus.PENDING,
)
LIVE = show.Status.LIVE


def test_text_is_one_line_without_invisible_characters() -> None:
    assert clean_text("  Quelle   place\npour les\tcommunes ?  ", field="text", max_length=500) == (
        "Quelle place pour les communes ?"
    )
    with pytest.raises(ValueError, match="control or invisible"):
        clean_text("caché\u202eeman", field="text", max_length=500)
    with pytest.raises(ValueError, match="`text` is 501 characters long; at most 500"):
        clean_text("é" * 501, field="text", max_length=500)
    assert clean_text("e\u0301" * 500, field="text", max_length=500) == "é" * 500  # NFC counts 500


def test_the_same_question_reworded_by_case_accents_or_punctuation_is_a_duplicate() -> None:
    assert duplicate_key("Quel rôle pour l'État ?") == duplicate_key("quel role pour letat")
    assert duplicate_key("Quel rôle pour l'État ?") != duplicate_key("Quel rôle pour la région ?")


@pytest.mark.parametrize(
    ("status", "on_air", "action", "decision"),
    [
        (P, False, ModerationAction.APPROVE, Decision(A, AirChange.NONE)),
        (R, False, ModerationAction.APPROVE, Decision(A, AirChange.NONE)),
        (AN, False, ModerationAction.APPROVE, Decision(A, AirChange.NONE)),
        (P, False, ModerationAction.REJECT, Decision(R, AirChange.NONE)),
        (A, True, ModerationAction.REJECT, Decision(R, AirChange.OFF)),
        (A, False, ModerationAction.ANSWER, Decision(AN, AirChange.NONE)),
        (A, True, ModerationAction.ANSWER, Decision(AN, AirChange.OFF)),
        (A, False, ModerationAction.ON_AIR, Decision(A, AirChange.ON)),
        (AN, False, ModerationAction.ON_AIR, Decision(AN, AirChange.ON)),
        (AN, True, ModerationAction.OFF_AIR, Decision(AN, AirChange.OFF)),
    ],
)
def test_each_moderation_action(
    status: QuestionStatus, on_air: bool, action: ModerationAction, decision: Decision
) -> None:
    assert moderate(status, on_air=on_air, action=action, show_status=LIVE) == decision


@pytest.mark.parametrize(
    ("status", "on_air", "action", "show_status", "code"),
    [
        (A, False, ModerationAction.APPROVE, LIVE, Code.QUESTION_STATE),
        (R, False, ModerationAction.REJECT, LIVE, Code.QUESTION_STATE),
        (P, False, ModerationAction.ANSWER, LIVE, Code.QUESTION_STATE),
        (P, False, ModerationAction.ON_AIR, LIVE, Code.QUESTION_STATE),
        (R, False, ModerationAction.ON_AIR, LIVE, Code.QUESTION_STATE),
        (A, True, ModerationAction.ON_AIR, LIVE, Code.QUESTION_STATE),
        (A, False, ModerationAction.OFF_AIR, LIVE, Code.QUESTION_STATE),
        (A, False, ModerationAction.ON_AIR, show.Status.SCHEDULED, Code.NOT_STARTED),
        (A, False, ModerationAction.ON_AIR, show.Status.ENDED, Code.ALREADY_ENDED),
    ],
)
def test_what_does_not_fit_is_refused_with_a_code(
    status: QuestionStatus, on_air: bool, action: ModerationAction, show_status: show.Status, code: Code
) -> None:
    with pytest.raises(Refusal) as refused:
        moderate(status, on_air=on_air, action=action, show_status=show_status)
    assert refused.value.code is code


def test_a_question_on_air_is_a_change_of_the_show_and_the_end_takes_it_off() -> None:
    live = show.apply(PLAN, show.Run(), show.Command(show.Action.START), at=AT).run
    question = show.AiredQuestion("q1", "Et les jeunes ?", "Léa, Riom")
    step = show.apply(PLAN, live, show.Command(show.Action.QUESTION_ON_AIR, "q1", question=question), at=AT)
    assert (step.run.version, step.run.question, step.run.current) == (2, question, "a")
    assert (step.entry.action, step.entry.item_id, step.entry.segment_id) == (
        show.Action.QUESTION_ON_AIR,
        "a",
        "s",
    )
    assert show.Run.from_json(step.run.to_json(), status="live", version=2) == step.run
    moved = show.apply(PLAN, step.run, show.Command(show.Action.NEXT), at=AT).run
    assert moved.question == question  # the question stays on air while the show moves on
    off = show.apply(PLAN, moved, show.Command(show.Action.QUESTION_OFF_AIR, "q1"), at=AT).run
    assert (off.question, off.version) == (None, 4)
    ended = show.apply(PLAN, moved, show.Command(show.Action.END), at=AT).run
    assert ended.question is None
    with pytest.raises(show.ShowError):
        show.apply(PLAN, off, show.Command(show.Action.QUESTION_OFF_AIR, "q1"), at=AT)
