"""The moderators' list of registrations, as CSV and as an Excel workbook (openpyxl).

Not a public export: it carries names and e-mails, and only the moderators' routes and the
`regie registrations export` command produce it. Every cell a registrant typed is kept as text,
so that a name starting with « = » is shown, never run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

from app.models import Registration, Signup

COLUMNS = ("id", "name", "email", "organisation", "category", "registered_at", "signups")


def rows(entries: Sequence[tuple[Registration, list[Signup]]]) -> list[list[str]]:
    return [
        [
            registration.id,
            registration.name,
            registration.email,
            registration.organisation or "",
            registration.category,
            registration.created_at.isoformat(),
            " ".join(f"{s.session_id}:{s.status}" for s in signups),
        ]
        for registration, signups in entries
    ]


def _text_cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(entries: Sequence[tuple[Registration, list[Signup]]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([[_text_cell(cell) for cell in row] for row in rows(entries)])
    # A byte order mark: Excel opens UTF-8 CSV as such only with it (accents in French names).
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(entries: Sequence[tuple[Registration, list[Signup]]], *, title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Inscriptions"
    sheet.append(list(COLUMNS))
    for row in rows(entries):
        sheet.append(row)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.data_type = TYPE_STRING  # typed text stays text, never a formula
    workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
