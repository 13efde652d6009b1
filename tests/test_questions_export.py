"""The moderators' question downloads: the exporters on their own, read back by their real
consumers (the csv module, openpyxl), then through the API with and without a bearer."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from app.domain.questions import QuestionStatus
from app.exports.questions import COLUMNS, QuestionsCsv, QuestionsData, QuestionsXlsx
from app.public import QuestionModerated
from tests.conftest import DINER, Api
from tests.test_questions import QUESTIONS, ask, moderate, moderator

PARIS = ZoneInfo("Europe/Paris")
ASKED = datetime(2020, 11, 23, 18, 12, 9, tzinfo=UTC)
ANSWERED = datetime(2020, 11, 23, 18, 40, 0, tzinfo=UTC)


def sample() -> QuestionsData:
    return QuestionsData(
        title="Dîner",
        zone=PARIS,
        questions=[
            QuestionModerated(
                id="q1",
                text='=HYPERLINK("http://evil") Élus, « communes » ?',
                author="Zoé, Mairie de Riom",
                status=QuestionStatus.ANSWERED,
                votes=42,
                created_at=ASKED,
                answered_at=ANSWERED,
                moderated_at=ANSWERED,
                moderated_by="regisseur",
                aired_at=None,
            ),
            QuestionModerated(
                id="q2",
                text="En attente ?",
                author=None,
                status=QuestionStatus.PENDING,
                votes=0,
                created_at=ASKED,
                answered_at=None,
                moderated_at=None,
                moderated_by=None,
                aired_at=None,
            ),
        ],
    )


def test_the_csv_reads_back_with_every_question_on_the_event_clock_and_no_formula() -> None:
    body = QuestionsCsv().render(sample())
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["id"], r["status"], r["votes"]) for r in rows] == [
        ("q1", "answered", "42"),
        ("q2", "pending", "0"),
    ]
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil") Élus, « communes » ?'
    assert rows[0]["author"] == "Zoé, Mairie de Riom"
    assert (rows[0]["created_at"], rows[0]["answered_at"]) == (
        "2020-11-23T19:12:09+01:00",
        "2020-11-23T19:40:00+01:00",
    )
    assert rows[1]["answered_at"] == "" and rows[1]["author"] == ""


def test_the_workbook_has_typed_times_numbers_and_text_that_never_runs() -> None:
    book = load_workbook(io.BytesIO(QuestionsXlsx().render(sample())))
    sheet = book["Questions"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["votes"] == 42
    assert first["created_at"] == datetime(2020, 11, 23, 19, 12, 9)  # Paris wall clock
    assert first["text"].startswith("=HYPERLINK")
    assert sheet.cell(row=2, column=COLUMNS.index("text") + 1).data_type == "s"  # text, not a formula
    assert book.properties.title == "Dîner"


async def test_moderators_download_every_question_and_nobody_else_does(api: Api) -> None:
    shown = await ask(api, "Une question retenue ?", author="Marie")
    hidden = await ask(api, "Une question rejetée ?")
    await moderate(api, shown, "approve")
    await moderate(api, hidden, "reject")
    headers = await moderator(api)
    answer = await api.client.get(f"{QUESTIONS}.csv", headers=headers)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"] == f'attachment; filename="{DINER}-questions.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert {(r["text"], r["status"]) for r in rows} == {
        ("Une question retenue ?", "approved"),
        ("Une question rejetée ?", "rejected"),
    }
    workbook = await api.client.get(f"{QUESTIONS}.xlsx", headers=headers)
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content))["Questions"]
    assert sheet.max_row == 3
    for path in (f"{QUESTIONS}.csv", f"{QUESTIONS}.xlsx"):
        refused = await api.client.get(path)
        assert refused.status_code == 401 and "rejetée" not in refused.text
