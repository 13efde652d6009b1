"""A YouTube chapter list, to paste into the replay video's description."""

from __future__ import annotations

from app.exports.base import ExportData, Exporter
from app.exports.chapters import chapters

# YouTube shows chapters only for a list of at least three, each 10 s or longer; a shorter list
# pasted into a description is silently ignored, so the file says so instead of listing them.
MIN_CHAPTERS = 3
TOO_FEW = (
    "# Moins de {minimum} chapitres ({count}) : YouTube n'affiche pas de chapitres pour cette vidéo. "
    "La liste paraîtra ici quand le direct en comptera au moins {minimum}.\n"
)


class YouTubeChaptersExporter(Exporter):
    filename = "chapters.txt"
    media_type = "text/plain; charset=utf-8"
    summary = "Chapters of the show for a YouTube description"
    description = (
        "One line per chapter, `M:SS Title` (or `H:MM:SS`), from the actual timeline: starts at 0:00, "
        "ascending, chapters at least 10 s long, as YouTube requires. With fewer than three chapters "
        "(before the show, or a show that ran one or two items), YouTube shows none: the file is then "
        "one line starting with `#` that says so."
    )
    example = "0:00 Accueil — Charles-Benoît HEIDSIECK\n9:30 Les résultats de l'étude IMPACT-Elus locaux\n"

    def render(self, data: ExportData) -> bytes:
        found = chapters(data)
        if len(found) < MIN_CHAPTERS:
            return TOO_FEW.format(minimum=MIN_CHAPTERS, count=len(found)).encode()
        return "".join(f"{_timestamp(c.start)} {c.title}\n" for c in found).encode()


def _timestamp(seconds: float) -> str:
    # Floor, so two chapters at least 10 s apart stay at least 10 s apart once written.
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
