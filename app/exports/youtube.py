"""A YouTube chapter list, to paste into the replay video's description."""

from __future__ import annotations

from app.exports.base import ExportData, Exporter
from app.exports.chapters import chapters


class YouTubeChaptersExporter(Exporter):
    filename = "chapters.txt"
    media_type = "text/plain; charset=utf-8"
    summary = "Chapters of the show for a YouTube description"
    description = (
        "One line per chapter, `M:SS Title` (or `H:MM:SS`), from the actual timeline: starts at 0:00, "
        "ascending, chapters at least 10 s long, as YouTube requires. Empty until the show starts."
    )
    example = "0:00 Accueil — Charles-Benoît HEIDSIECK\n9:30 Les résultats de l'étude IMPACT-Elus locaux\n"

    def render(self, data: ExportData) -> bytes:
        return "".join(f"{_timestamp(c.start)} {c.title}\n" for c in chapters(data)).encode()


def _timestamp(seconds: float) -> str:
    # Floor, so two chapters at least 10 s apart stay at least 10 s apart once written.
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
