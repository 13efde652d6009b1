"""The chapters as JSON: what the replay page and other players jump to.

The same chapters as `chapters.vtt` and `chapters.txt` (one rule, `app.exports.chapters`), with
the item each one shows, so that a page can put a chapter's jump beside the item it belongs to.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from app.exports.base import ExportData, Exporter
from app.exports.chapters import chapters


class ChaptersJsonExporter(Exporter):
    filename = "chapters.json"
    media_type = "application/json"
    summary = "Chapters of the show as JSON"
    description = (
        "The chapters of `chapters.vtt` and `chapters.txt` (ascending from 0, each at least 10 s, from "
        'the actual timeline), each with the id of the item it shows: `{"chapters": [{"start_seconds", '
        '"end_seconds", "item_id", "title"}]}`. Empty until the show starts.'
    )
    example = json.dumps(
        {
            "chapters": [
                {"start_seconds": 0.0, "end_seconds": 570.0, "item_id": "accueil", "title": "Accueil"},
            ]
        }
    )
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["chapters"],
        "properties": {
            "chapters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["start_seconds", "end_seconds", "item_id", "title"],
                    "properties": {
                        "start_seconds": {"type": "number"},
                        "end_seconds": {"type": "number"},
                        "item_id": {"type": "string"},
                        "title": {"type": "string"},
                    },
                },
            }
        },
    }

    def render(self, data: ExportData) -> bytes:
        body = {
            "chapters": [
                {
                    "start_seconds": chapter.start,
                    "end_seconds": chapter.end,
                    "item_id": chapter.item_id,
                    "title": chapter.title,
                }
                for chapter in chapters(data)
            ]
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
