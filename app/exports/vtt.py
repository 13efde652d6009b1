"""WebVTT chapters, for `<track kind="chapters">` beside the replay's `<video>`."""

from __future__ import annotations

from app.exports.base import ExportData, Exporter
from app.exports.chapters import chapters


class ChaptersVttExporter(Exporter):
    filename = "chapters.vtt"
    media_type = "text/vtt; charset=utf-8"
    summary = "Chapters of the show as WebVTT"
    description = (
        "One cue per item as it was actually played, timed from the start of the show, for "
        '`<track kind="chapters" src="…/chapters.vtt">`. Empty (no cue) until the show starts; '
        "while it is live, the item on air ends at the moment of the request."
    )
    example = "WEBVTT\n\n1\n00:00:00.000 --> 00:09:30.000\nAccueil — Charles-Benoît HEIDSIECK\n"

    def render(self, data: ExportData) -> bytes:
        lines = ["WEBVTT", ""]
        for number, chapter in enumerate(chapters(data), start=1):
            lines += [str(number), f"{_timestamp(chapter.start)} --> {_timestamp(chapter.end)}"]
            lines += [_cue_text(chapter.title), ""]
        return "\n".join(lines).encode()


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _cue_text(text: str) -> str:
    # Cue text is markup: escape it, and `-->` may never appear in a cue.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
