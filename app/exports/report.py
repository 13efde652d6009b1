"""Planned against actual: one row per item, per segment, and for the whole show.

Two files from the same rows. `report.csv` is RFC 4180 in UTF-8 without a byte-order mark: the
form scripts and data tools read (a BOM turns the first header into `\\ufefflevel` for most of
them). French Excel opens a CSV in the machine's code page with `;` as separator, so a BOM
alone would still put every row in one column: spreadsheet users get `report.xlsx` instead,
whose times are real date-times (on the event's wall clock, Excel has no time zones) and whose
durations are numbers, so they sort and sum.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.worksheet.worksheet import Worksheet

from app.domain.show import stretches
from app.exports.base import ExportData, Exporter, one_line, speaker_line

COLUMNS = (
    "level",
    "segment_id",
    "item_id",
    "title",
    "speakers",
    "planned_start",
    "planned_end",
    "planned_duration_seconds",
    "actual_start",
    "actual_end",
    "actual_duration_seconds",
    "start_delay_seconds",
    "overrun_seconds",
)
# In a moderator's report only (a bearer): one `audience` row per minute of the curve.
AUDIENCE_COLUMNS = ("minute", "viewers")
DESCRIPTION = (
    "One row per item, then per segment, then the show (`level`): planned and actual start and end, "
    "durations, how late each started (`start_delay_seconds`) and how much longer it lasted than planned "
    "(`overrun_seconds`, negative when shorter). An item has a planned start when the programme times it "
    "or it opens its segment, and a planned length when nothing else shares its slot; otherwise those "
    "cells are empty."
)


@dataclass(frozen=True)
class Row:
    level: str
    segment_id: str
    item_id: str
    title: str
    speakers: str
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None

    @property
    def planned_length(self) -> int | None:
        return _seconds(self.planned_end, self.planned_start)

    @property
    def actual_length(self) -> int | None:
        return _seconds(self.actual_end, self.actual_start)

    @property
    def start_delay(self) -> int | None:
        return _seconds(self.actual_start, self.planned_start)

    @property
    def overrun(self) -> int | None:
        planned, actual = self.planned_length, self.actual_length
        return actual - planned if planned is not None and actual is not None else None


def _seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    return round((later - earlier).total_seconds()) if later and earlier else None


def report_rows(data: ExportData) -> list[Row]:
    planned: dict[str, tuple[datetime | None, datetime | None]] = {}
    for stretch in stretches(data.plan):
        for index, item_id in enumerate(stretch.item_ids):
            start = stretch.planned_start if index == 0 else None
            end = stretch.planned_end if len(stretch.item_ids) == 1 else None
            planned[item_id] = (start, end)
    rows = []
    for segment, item in data.items():
        start, end = planned[item.id]
        rows.append(
            Row("item", segment.id, item.id, one_line(item.title), speaker_line(item.speakers), start, end,
                item.actual_start, item.actual_end)
        )  # fmt: skip
    for segment in data.event.segments:
        rows.append(
            Row("segment", segment.id, "", one_line(segment.title), "", segment.planned_start,
                segment.planned_end, segment.actual_start, segment.actual_end)
        )  # fmt: skip
    event = data.event
    rows.append(
        Row("show", "", "", one_line(event.title), "", event.starts_at, event.ends_at,
            event.started_at, event.ended_at)
    )  # fmt: skip
    return rows


AUDIENCE_NOTE = (
    " With a moderator's bearer, the audience curve follows: `minute` and `viewers` (the most viewers "
    "at once in that minute, every process counted)"
)


class ReportExporter(Exporter):
    filename = "report.csv"
    with_audience = True
    media_type = "text/csv; charset=utf-8; header=present"
    summary = "Planned against actual, as CSV"
    description = (
        DESCRIPTION + " Times are local with their UTC offset. RFC 4180, UTF-8 without a byte-order mark; "
        "spreadsheet users open `report.xlsx`." + AUDIENCE_NOTE + ", as two more columns filled in "
        "rows whose `level` is `audience`."
    )
    example = (
        ",".join(COLUMNS) + "\r\nitem,elus-a-la-manoeuvre,accueil,Accueil,Charles-Benoît HEIDSIECK (…),"
        "2020-11-23T19:00:00+01:00,,,2020-11-23T19:02:10+01:00,2020-11-23T19:09:30+01:00,440,130,\r\n"
    )

    def render(self, data: ExportData) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        extra = ["", ""] if data.audience else []
        writer.writerow(COLUMNS + AUDIENCE_COLUMNS if data.audience else COLUMNS)

        def when(moment: datetime | None) -> str:
            return data.local(moment).replace(microsecond=0).isoformat() if moment else ""

        def number(value: int | None) -> str:
            return "" if value is None else str(value)

        for row in report_rows(data):
            writer.writerow(
                [row.level, row.segment_id, row.item_id, _text_cell(row.title), _text_cell(row.speakers),
                 when(row.planned_start), when(row.planned_end), number(row.planned_length),
                 when(row.actual_start), when(row.actual_end), number(row.actual_length),
                 number(row.start_delay), number(row.overrun), *extra]
            )  # fmt: skip
        for minute, viewers in data.audience:
            writer.writerow(["audience", *([""] * (len(COLUMNS) - 1)), when(minute), str(viewers)])
        return buffer.getvalue().encode()


class SpreadsheetReportExporter(Exporter):
    filename = "report.xlsx"
    with_audience = True
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    schema: ClassVar[dict[str, str]] = {"type": "string", "format": "binary"}
    summary = "Planned against actual, as an Excel workbook"
    description = (
        DESCRIPTION + " The same rows as `report.csv`, typed: times are date-times on the event's wall "
        "clock (its time zone is named in the header), durations and delays are numbers of seconds."
        + AUDIENCE_NOTE
        + ", on a sheet of its own, « Audience »."
    )
    example = "(an Office Open XML workbook: sheet « Rapport », one header row, then one row per line)"
    TIME_FORMAT: ClassVar[str] = "yyyy-mm-dd hh:mm:ss"

    def render(self, data: ExportData) -> bytes:
        workbook = Workbook(write_only=True)
        # Same data, same bytes (the ETag and 304s depend on it): the workbook's dates are the
        # programme's revision, not the time of the request.
        revised = data.event.updated_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        workbook.properties.created = workbook.properties.modified = revised
        sheet: Worksheet = workbook.create_sheet("Rapport")
        zone = data.event.timezone
        sheet.append([f"{name} ({zone})" if name.endswith(("_start", "_end")) else name for name in COLUMNS])

        def when(moment: datetime | None) -> Cell | None:
            if moment is None:
                return None
            cell = WriteOnlyCell(sheet, value=data.local(moment).replace(microsecond=0, tzinfo=None))
            cell.number_format = self.TIME_FORMAT
            return cell

        def text(value: str) -> Cell:
            # Always a string cell: openpyxl would otherwise store « =… » as a formula.
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell

        for row in report_rows(data):
            sheet.append(
                [row.level, row.segment_id, row.item_id, text(row.title), text(row.speakers),
                 when(row.planned_start), when(row.planned_end), row.planned_length,
                 when(row.actual_start), when(row.actual_end), row.actual_length,
                 row.start_delay, row.overrun]
            )  # fmt: skip
        if data.audience:
            curve: Worksheet = workbook.create_sheet("Audience")
            curve.append([f"minute ({zone})", "viewers"])
            for minute, viewers in data.audience:
                cell = WriteOnlyCell(curve, value=data.local(minute).replace(tzinfo=None))
                cell.number_format = self.TIME_FORMAT
                curve.append([cell, viewers])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return _without_clock(buffer.getvalue(), revised)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _without_clock(archive: bytes, revised: datetime) -> bytes:
    """The same workbook with nothing dated by the clock: openpyxl dates the zip's entries and
    the `modified` property with the time of saving; they become 1980-01-01 and `revised`."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    stamp = revised.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()


def _text_cell(text: str) -> str:
    """A programme's words as a spreadsheet cell that stays text.

    A cell starting with = + - @ is run as a formula by Excel and LibreOffice when the report is
    opened (CSV injection); a leading apostrophe makes them show it as typed.
    """
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
