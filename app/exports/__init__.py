"""Exports: the programme and its run in the formats other tools read.

Each format is an `Exporter` class with its file name and content type (as pretalx does), built
only from the public models of `app.public`: whatever an export shows, the JSON API shows too, so
a mystery item's guest cannot leave through a calendar before its reveal.
"""

from __future__ import annotations

from app.exports.base import ExportData, Exporter
from app.exports.chapters_json import ChaptersJsonExporter
from app.exports.frab import ScheduleJsonExporter, ScheduleXmlExporter
from app.exports.ical import CalendarExporter
from app.exports.report import ReportExporter, SpreadsheetReportExporter
from app.exports.vtt import ChaptersVttExporter
from app.exports.youtube import YouTubeChaptersExporter

EXPORTERS: tuple[Exporter, ...] = (
    CalendarExporter(),
    ScheduleXmlExporter(),
    ScheduleJsonExporter(),
    ChaptersVttExporter(),
    YouTubeChaptersExporter(),
    ChaptersJsonExporter(),
    ReportExporter(),
    SpreadsheetReportExporter(),
)

__all__ = ["EXPORTERS", "ExportData", "Exporter"]
