"""The organiser's editor, as data: the programme document ↔ the form's fields, and the API's
located refusals ↔ the field they are about, in French.

Kept apart from the routes so that the mapping is tested on its own. The form is flat (names like
`s0.i2.title`), one input per field of the document, so that a refused save re-renders exactly
what the organiser typed. The document is the API's (`GET …/document`); nothing here knows a rule
of the programme: the backend judges, this only says where and in French.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EVENT_FIELDS = (
    "slug",
    "title",
    "subtitle",
    "description",
    "timezone",
    "location",
    "organiser",
    "stream_url",
    "replay_url",
)
KINDS = {
    "welcome": "Accueil",
    "talk": "Intervention",
    "debate": "Débat",
    "testimony": "Témoignage",
    "announcement": "Annonce",
    "workshop": "Ateliers",
    "break": "Pause",
    "closing": "Clôture",
}
_NAME = re.compile(r"^s(\d{1,3})\.(?:i(\d{1,3})\.)?([a-z_]+)$")


@dataclass
class ItemForm:
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass
class SegmentForm:
    values: dict[str, str] = field(default_factory=dict)
    items: list[ItemForm] = field(default_factory=list)

    def get(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass
class ProgrammeForm:
    """What the editor shows: every field as the text in its input."""

    values: dict[str, str] = field(default_factory=dict)
    segments: list[SegmentForm] = field(default_factory=list)

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.get("timezone") or "Europe/Paris")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("Europe/Paris")

    def item_index(self, item_id: str) -> tuple[int, int] | None:
        for s, segment in enumerate(self.segments):
            for i, item in enumerate(segment.items):
                if item.get("id") == item_id:
                    return s, i
        return None

    def segment_index(self, segment_id: str) -> int | None:
        return next((s for s, seg in enumerate(self.segments) if seg.get("id") == segment_id), None)


# --- The document → the form ------------------------------------------------------------------


def _local(value: Any, zone: ZoneInfo) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _people(speakers: Any) -> str:
    lines = []
    for speaker in speakers or []:
        parts = [speaker.get("name") or "", speaker.get("role") or "", speaker.get("organisation") or ""]
        while parts and not parts[-1]:
            parts.pop()
        lines.append(" ; ".join(parts))
    return "\n".join(lines)


def form_of(document: Mapping[str, Any]) -> ProgrammeForm:
    zone = ProgrammeForm(values={"timezone": str(document.get("timezone") or "Europe/Paris")}).zone
    values = {name: str(document.get(name) or "") for name in EVENT_FIELDS}
    values["timezone"] = values["timezone"] or "Europe/Paris"
    values["starts_at"] = _local(document.get("starts_at"), zone)
    values["ends_at"] = _local(document.get("ends_at"), zone)
    values["partners"] = "\n".join(document.get("partners") or [])
    values["see_also"] = "\n".join(document.get("see_also") or [])
    form = ProgrammeForm(values=values)
    for segment in document.get("segments") or []:
        seg = SegmentForm(
            values={
                "id": str(segment.get("id") or ""),
                "title": str(segment.get("title") or ""),
                "planned_start": _local(segment.get("planned_start"), zone),
                "planned_end": _local(segment.get("planned_end"), zone),
            }
        )
        for item in segment.get("items") or []:
            hidden = item.get("hidden") or {}
            seg.items.append(
                ItemForm(
                    values={
                        "id": str(item.get("id") or ""),
                        "kind": str(item.get("kind") or "talk"),
                        "title": str(item.get("title") or ""),
                        "description": str(item.get("description") or ""),
                        "planned_start": _local(item.get("planned_start"), zone),
                        "speakers": _people(item.get("speakers")),
                        "mystery": "on" if item.get("mystery") else "",
                        "teaser": str(item.get("teaser") or ""),
                        "hidden_speakers": _people(hidden.get("speakers")),
                        "hidden_announcement": str(hidden.get("announcement") or ""),
                        "links": "\n".join(
                            f"{r.get('title', '')} | {r.get('url', '')}" for r in item.get("resources") or []
                        ),
                    }
                )
            )
        form.segments.append(seg)
    return form


# --- The posted form → the form, and the form → the document -----------------------------------


def parse_form(fields: Mapping[str, str]) -> ProgrammeForm:
    """The form as posted: event fields by name, segments and items by their numbered names."""
    form = ProgrammeForm(
        values={k: fields.get(k, "") for k in (*EVENT_FIELDS, "starts_at", "ends_at", "partners", "see_also")}
    )
    segments: dict[int, SegmentForm] = {}
    items: dict[tuple[int, int], ItemForm] = {}
    for name, value in fields.items():
        match = _NAME.match(name)
        if match is None:
            continue
        s, i, key = int(match[1]), match[2], match[3]
        segment = segments.setdefault(s, SegmentForm())
        if i is None:
            segment.values[key] = value
        else:
            items.setdefault((s, int(i)), ItemForm()).values[key] = value
    for s in sorted(segments):
        segment = segments[s]
        segment.items = [items[key] for key in sorted(k for k in items if k[0] == s)]
        form.segments.append(segment)
    return form


def _utc(text: str, zone: ZoneInfo) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # sent as typed: the API says where it is wrong
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _speakers(text: str) -> list[dict[str, str | None]]:
    people = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(";")]
        if not parts[0]:
            continue
        people.append(
            {
                "name": parts[0],
                "role": parts[1] if len(parts) > 1 and parts[1] else None,
                "organisation": "; ".join(parts[2:]) if len(parts) > 2 and parts[2] else None,
            }
        )
    return people


def _links(text: str) -> list[dict[str, str]]:
    links = []
    for line in text.splitlines():
        if not line.strip():
            continue
        title, _, url = line.rpartition("|")
        links.append({"title": title.strip() or url.strip(), "url": url.strip()})
    return links


def _text(value: str) -> str | None:
    return value.strip() or None


def document_of(form: ProgrammeForm) -> dict[str, Any]:
    """The programme document the API takes, from what the organiser typed."""
    zone = form.zone
    document: dict[str, Any] = {name: _text(form.get(name)) for name in EVENT_FIELDS}
    document["timezone"] = form.get("timezone").strip() or "Europe/Paris"
    document["starts_at"] = _utc(form.get("starts_at"), zone)
    document["ends_at"] = _utc(form.get("ends_at"), zone)
    document["partners"] = [line.strip() for line in form.get("partners").splitlines() if line.strip()]
    document["see_also"] = [line.strip() for line in form.get("see_also").splitlines() if line.strip()]
    segments = []
    for segment in form.segments:
        items = []
        for item in segment.items:
            mystery = bool(item.get("mystery"))
            data: dict[str, Any] = {
                "id": _text(item.get("id")),
                "kind": item.get("kind") or "talk",
                "title": _text(item.get("title")),
                "description": _text(item.get("description")),
                "planned_start": _utc(item.get("planned_start"), zone),
                "speakers": [] if mystery else _speakers(item.get("speakers")),
                "mystery": mystery,
                "resources": _links(item.get("links")),
            }
            if mystery:
                data["teaser"] = _text(item.get("teaser"))
                data["hidden"] = {
                    "speakers": _speakers(item.get("hidden_speakers")),
                    "announcement": _text(item.get("hidden_announcement")),
                }
            elif _text(item.get("teaser")):
                data["teaser"] = _text(item.get("teaser"))
            items.append({k: v for k, v in data.items() if v is not None})
        segments.append(
            {
                k: v
                for k, v in {
                    "id": _text(segment.get("id")),
                    "title": _text(segment.get("title")),
                    "planned_start": _utc(segment.get("planned_start"), zone),
                    "planned_end": _utc(segment.get("planned_end"), zone),
                    "items": items,
                }.items()
                if v is not None
            }
        )
    document["segments"] = segments
    return {k: v for k, v in document.items() if v is not None}


# What the form edits, per level: anything else a saved document carries (rooms, parallel
# sessions and their sign-up windows, fields a later API adds) is not on the form and must
# survive a save from it unchanged, or the editor would silently erase what it cannot show.
_EDITED_EVENT_KEYS = frozenset(
    {*EVENT_FIELDS, "timezone", "starts_at", "ends_at", "partners", "see_also", "segments"}
)
_EDITED_SEGMENT_KEYS = frozenset({"id", "title", "planned_start", "planned_end", "items"})
_EDITED_ITEM_KEYS = frozenset(
    {
        "id",
        "kind",
        "title",
        "description",
        "planned_start",
        "speakers",
        "mystery",
        "resources",
        "teaser",
        "hidden",
    }
)


def _carried(target: dict[str, Any], saved: Mapping[str, Any], edited: frozenset[str]) -> None:
    for key, value in saved.items():
        if key not in edited and key not in target:
            target[key] = copy.deepcopy(value)


def carry_over(document: dict[str, Any], saved: Mapping[str, Any]) -> dict[str, Any]:
    """`document` (from the form) with what the form does not edit taken from `saved`, the
    document it was opened on: event-level keys, then segments and items matched by id (an
    item keeps its sessions wherever the organiser moved it)."""
    _carried(document, saved, _EDITED_EVENT_KEYS)
    saved_segments = {s.get("id"): s for s in saved.get("segments") or [] if s.get("id")}
    saved_items = {
        i.get("id"): i for s in saved.get("segments") or [] for i in s.get("items") or [] if i.get("id")
    }
    for segment in document.get("segments") or []:
        if segment.get("id") in saved_segments:
            _carried(segment, saved_segments[segment["id"]], _EDITED_SEGMENT_KEYS)
        for item in segment.get("items") or []:
            if item.get("id") in saved_items:
                _carried(item, saved_items[item["id"]], _EDITED_ITEM_KEYS)
    return document


# --- Structural changes made without saving (buttons that work without script) ----------------


def apply_operation(form: ProgrammeForm, operation: str) -> None:
    """`add-segment`, `add-item:S`, `remove-segment:S`, `remove-item:S:I`, `up:S:I`, `down:S:I`."""
    name, _, args = operation.partition(":")
    numbers = [int(n) for n in args.split(":") if n.isdigit()]
    if name == "add-segment":
        form.segments.append(SegmentForm(items=[ItemForm(values={"kind": "talk"})]))
    elif name == "add-item" and len(numbers) == 1 and numbers[0] < len(form.segments):
        form.segments[numbers[0]].items.append(ItemForm(values={"kind": "talk"}))
    elif name == "remove-segment" and len(numbers) == 1 and numbers[0] < len(form.segments):
        del form.segments[numbers[0]]
    elif name in ("remove-item", "up", "down") and len(numbers) == 2:
        s, i = numbers
        if s >= len(form.segments) or i >= len(form.segments[s].items):
            return
        items = form.segments[s].items
        if name == "remove-item":
            del items[i]
        elif name == "up":
            if i > 0:
                items[i - 1], items[i] = items[i], items[i - 1]
            elif s > 0:  # into the end of the segment before
                form.segments[s - 1].items.append(items.pop(i))
        elif i + 1 < len(items):
            items[i + 1], items[i] = items[i], items[i + 1]
        elif s + 1 < len(form.segments):  # into the start of the segment after
            form.segments[s + 1].items.insert(0, items.pop(i))


# --- The API's located refusals, next to their field, in French --------------------------------

_LOCATED = re.compile(
    r"^(?:segment (?P<s>\d+)(?: « .*? »)?)?(?:, )?(?:item (?P<i>\d+)(?: « .*? »)?)?(?:, )?"
    r"(?:field `(?P<field>[^`]+)`)?(?:document)?: (?P<message>.*)$",
    re.S,
)

_FRENCH: tuple[tuple[str, str], ...] = (
    ("Field required", "Champ obligatoire."),
    ("String should have at least 1 character", "Ne peut pas être vide."),
    ("String should have at most", "Trop long."),
    ("List should have at least 1 item", "Il faut au moins un élément."),
    ("Input should be a valid datetime", "Date et heure invalides (jj/mm/aaaa hh:mm)."),
    ("Input should have timezone info", "Date et heure invalides."),
    ("`planned_end` must come after `planned_start`", "La fin doit venir après le début."),
    ("`ends_at` must come after `starts_at`", "La fin doit venir après le début."),
    ("starts before the previous segment ends", "Cette partie commence avant la fin de la précédente."),
    ("falls outside its segment's times", "L'heure prévue d'un moment sort des horaires de sa partie."),
    ("a mystery item lists its guests", "Les invités d'un moment mystère se saisissent dans le secret."),
    ("a mystery item needs `hidden`", "Un moment mystère doit avoir son secret."),
    ("`hidden` and `teaser` are only for items", "L'accroche est réservée aux moments mystère."),
    ("two segments share the same `id`", "Deux parties ont le même identifiant."),
    ("two items share the same `id`", "Deux moments ont le même identifiant."),
    ("is not an IANA time zone", "Fuseau horaire inconnu (par exemple Europe/Paris)."),
    ("String should match pattern '^https?://", "Adresse web attendue (http:// ou https://)."),
    ("String should match pattern '^[a-z0-9]", "Lettres minuscules, chiffres et tirets seulement."),
    ("String should match pattern", "Format invalide."),
    ("Extra inputs are not permitted", "Champ inconnu."),
    ("differs from the path", "L'identifiant ne correspond pas à cet événement."),
)

# A document field → the form field it is typed in.
_FIELD_OF = {
    "hidden": "hidden_speakers",
    "resources": "links",
    "partners": "partners",
    "see_also": "see_also",
}


def french(message: str) -> str:
    for english, translation in _FRENCH:
        if english in message:
            return translation
    return f"Valeur refusée : {message}"


def locate(problem: str) -> tuple[str, str]:
    """(the form field's name, or "" for the whole form; the message in French)."""
    match = _LOCATED.match(problem.strip())
    if match is None:
        return "", french(problem)
    path = (match["field"] or "").split(".")
    head = path[0] if path and path[0] else ""
    if head == "hidden" and len(path) > 1 and path[1] == "announcement":
        key = "hidden_announcement"
    else:
        key = _FIELD_OF.get(head, head)
    prefix = ""
    if match["s"]:
        prefix = f"s{int(match['s']) - 1}."
        if match["i"]:
            prefix += f"i{int(match['i']) - 1}."
    name = prefix + key if key else prefix.rstrip(".")
    return name, french(match["message"])


def field_errors(problems: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        name, message = locate(problem)
        errors.setdefault(name, []).append(message)
    return errors


def revision_of(etag: str | None) -> int | None:
    match = re.match(r'^"r(\d+)-', etag or "")
    return int(match[1]) if match else None
