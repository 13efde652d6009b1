"""Planned against actual: one row per item, per segment, and for the whole show."""

from __future__ import annotations

import csv
import io
from datetime import datetime

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


class ReportExporter(Exporter):
    filename = "report.csv"
    media_type = "text/csv; charset=utf-8; header=present"
    summary = "Planned against actual, as CSV"
    description = (
        "One row per item, then per segment, then the show (`level`): planned and actual start and end "
        "(local time with its UTC offset), durations, how late each started (`start_delay_seconds`) and "
        "how much longer it lasted than planned (`overrun_seconds`, negative when shorter). An item has a "
        "planned start when the programme times it or it opens its segment, and a planned length when "
        "nothing else shares its slot; otherwise those cells are empty."
    )
    example = (
        ",".join(COLUMNS) + "\r\nitem,elus-a-la-manoeuvre,accueil,Accueil,Charles-Benoît HEIDSIECK (…),"
        "2020-11-23T19:00:00+01:00,,,2020-11-23T19:02:10+01:00,2020-11-23T19:09:30+01:00,440,130,\r\n"
    )

    def render(self, data: ExportData) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        planned: dict[str, tuple[datetime | None, datetime | None]] = {}
        for stretch in stretches(data.plan):
            for index, item_id in enumerate(stretch.item_ids):
                start = stretch.planned_start if index == 0 else None
                end = stretch.planned_end if len(stretch.item_ids) == 1 else None
                planned[item_id] = (start, end)
        for segment, item in data.items():
            start, end = planned[item.id]
            writer.writerow(
                _row(data, "item", segment.id, item.id, item.title, speaker_line(item), start, end,
                     item.actual_start, item.actual_end)
            )  # fmt: skip
        for segment in data.event.segments:
            writer.writerow(
                _row(data, "segment", segment.id, "", segment.title, "", segment.planned_start,
                     segment.planned_end, segment.actual_start, segment.actual_end)
            )  # fmt: skip
        event = data.event
        writer.writerow(
            _row(data, "show", "", "", event.title, "", event.starts_at, event.ends_at,
                 event.started_at, event.ended_at)
        )  # fmt: skip
        return buffer.getvalue().encode()


def _row(
    data: ExportData,
    level: str,
    segment_id: str,
    item_id: str,
    title: str,
    speakers: str,
    planned_start: datetime | None,
    planned_end: datetime | None,
    actual_start: datetime | None,
    actual_end: datetime | None,
) -> list[str]:
    def when(moment: datetime | None) -> str:
        return data.local(moment).replace(microsecond=0).isoformat() if moment else ""

    def seconds(later: datetime | None, earlier: datetime | None) -> str:
        return str(round((later - earlier).total_seconds())) if later and earlier else ""

    planned_length = seconds(planned_end, planned_start)
    actual_length = seconds(actual_end, actual_start)
    overrun = str(int(actual_length) - int(planned_length)) if planned_length and actual_length else ""
    return [
        level,
        segment_id,
        item_id,
        _text_cell(one_line(title)),
        _text_cell(speakers),
        when(planned_start),
        when(planned_end),
        planned_length,
        when(actual_start),
        when(actual_end),
        actual_length,
        seconds(actual_start, planned_start),
        overrun,
    ]


def _text_cell(text: str) -> str:
    """A programme's words as a spreadsheet cell that stays text.

    A cell starting with = + - @ is run as a formula by Excel and LibreOffice when the report is
    opened (CSV injection); a leading apostrophe makes them show it as typed.
    """
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
