"""Jinja2 rendering: whole pages, and the same templates' blocks as fragments for live updates.

A fragment is a block of the page's own template, so a page and its updates cannot drift apart.
Fragment blocks see only the show's view (never the request or the session): their output is
shared by every viewer, and StrictUndefined turns any slip into an error in the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from frontend import formatting
from frontend.presenter import KIND_LABELS, ShowView, projected_if_late

TEMPLATES = Path(__file__).parent / "templates"

LIVE_BLOCKS = ("live_status", "live_now", "live_question", "live_guests", "live_programme", "live_announcer")
CONSOLE_BLOCKS = ("console_state", "console_controls", "console_programme")
OVERLAY_BLOCKS = ("overlay_third",)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        hm=formatting.hour_minute,
        long_date=formatting.long_date,
        date_time=formatting.date_time,
        span=formatting.time_span,
        zone_label=formatting.zone_label,
        duration=formatting.duration,
        drift=formatting.drift,
        offset=formatting.offset,
        iso=formatting.iso,
        quoted=formatting.quoted,
        kind_label=lambda kind: KIND_LABELS.get(kind, kind.capitalize()),
        filesize=formatting.file_size,
    )
    env.globals["late"] = projected_if_late
    env.globals["ui"] = env.get_template("_macros.html").module
    return env


class Renderer:
    def __init__(self, env: Environment | None = None, *, now_ms: Callable[[], int] | None = None) -> None:
        self.env = env or make_environment()
        # The backend's clock (frontend.clock.ServerClock) once measured: a page's first guess of
        # the server time, before its script measures its own offset.
        self.now_ms = now_ms or server_now_ms

    def page(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render({"server_now_ms": self.now_ms(), **context})

    def blocks(self, name: str, blocks: Iterable[str], context: Mapping[str, Any]) -> str:
        template = self.env.get_template(name)
        scope = template.new_context(dict(context))
        return "".join("".join(template.blocks[block](scope)) for block in blocks)

    def live_fragments(self, view: ShowView) -> str:
        return self.blocks("live.html", LIVE_BLOCKS, {"view": view})

    def console_fragments(self, view: ShowView) -> str:
        return self.blocks("console.html", CONSOLE_BLOCKS, {"view": view})

    def overlay_fragments(self, view: ShowView) -> str:
        return self.blocks("overlay.html", OVERLAY_BLOCKS, {"view": view})

    def link_status(self, *, up: bool) -> str:
        macro = self.env.globals["ui"].link_status  # type: ignore[attr-defined]
        return str(macro(up))

    def flash(self, message: str, *, level: str = "info") -> str:
        return self.blocks("console.html", ["console_flash"], {"flash": Flash(message, level)})


@dataclass(frozen=True, slots=True)
class Flash:
    """A message to a moderator about their last press: `info`, `success`, `warning` or `error`."""

    message: str
    level: str = "info"


def server_now_ms() -> int:
    """This machine's clock, in milliseconds since the epoch (before any measurement)."""
    return int(time.time() * 1000)
