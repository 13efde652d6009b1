"""The moderators' download of an event's audience questions, as CSV and as an Excel workbook.

Not a public export (never in `app.exports.EXPORTERS`): it carries pending and rejected
questions and their authors, and only the moderators' routes produce it. Times are on the
event's wall clock, as the console shows them (ISO 8601 with the offset in the CSV, date-times
in the workbook, which has no time zones). Every cell an asker typed stays text: a question
starting with « = » is shown, never run as a formula.
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

from app.public import QuestionModerated

COLUMNS = (
    "id",
    "status",
    "text",
    "author",
    "votes",
    "created_at",
    "moderated_at",
    "moderated_by",
    "aired_at",
    "answered_at",
)
_TEXT_COLUMNS = frozenset({"id", "status", "text", "author", "moderated_by"})
_TIME_COLUMNS = ("created_at", "moderated_at", "aired_at", "answered_at")


@dataclass(frozen=True)
class QuestionsData:
    title: str
    zone: ZoneInfo
    questions: Sequence[QuestionModerated]
    """In the order they were asked."""


def _formula_safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class QuestionsExporter(ABC):
    filename: ClassVar[str]
    media_type: ClassVar[str]

    @abstractmethod
    def render(self, data: QuestionsData) -> bytes:
        """The whole file; deterministic for the same questions."""


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


class QuestionsCsv(QuestionsExporter):
    """RFC 4180, UTF-8 with a byte-order mark: Excel then reads the accents of French questions."""

    filename = "questions.csv"
    media_type = "text/csv; charset=utf-8"

    def render(self, data: QuestionsData) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for question in data.questions:
            times = [_local(getattr(question, column), data.zone) for column in _TIME_COLUMNS]
            created, moderated, aired, answered = (t.isoformat() if t else "" for t in times)
            writer.writerow(
                [
                    question.id,
                    question.status.value,
                    _formula_safe(question.text),
                    _formula_safe(question.author or ""),
                    question.votes,
                    created,
                    moderated,
                    _formula_safe(question.moderated_by or ""),
                    aired,
                    answered,
                ]
            )
        return ("\ufeff" + buffer.getvalue()).encode()


class QuestionsXlsx(QuestionsExporter):
    """Times as date-times on the event's wall clock (Excel has no time zones), votes as numbers."""

    filename = "questions.xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self, data: QuestionsData) -> bytes:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "Questions"
        sheet.append(list(COLUMNS))
        for question in data.questions:
            values: dict[str, object] = {
                "id": question.id,
                "status": question.status.value,
                "text": question.text,
                "author": question.author or "",
                "votes": question.votes,
                "moderated_by": question.moderated_by or "",
            }
            for column in _TIME_COLUMNS:
                moment = _local(getattr(question, column), data.zone)
                values[column] = moment.replace(tzinfo=None) if moment is not None else None
            sheet.append([values[column] for column in COLUMNS])
            for cell, column in zip(sheet[sheet.max_row], COLUMNS, strict=True):
                if column in _TEXT_COLUMNS:
                    cell.data_type = TYPE_STRING  # typed text stays text, never a formula
                elif column in _TIME_COLUMNS and cell.value is not None:
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
        workbook.properties.title = data.title
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


QUESTION_EXPORTERS: tuple[QuestionsExporter, ...] = (QuestionsCsv(), QuestionsXlsx())
