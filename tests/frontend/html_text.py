"""What a person reads in a piece of HTML: the text of an element, whitespace collapsed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Collector(HTMLParser):
    def __init__(self, element_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0 if element_id is None else -1
        self.parts: list[str] = []
        self.hidden_depth: int | None = None
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self.depth < 0 and attributes.get("id") == self.element_id:
            self.depth = 0
            self.found.append(attributes)
        if self.depth >= 0 and tag not in VOID:
            self.depth += 1
            if self.hidden_depth is None and ("hidden" in attributes or tag in {"script", "style"}):
                self.hidden_depth = self.depth

    def handle_endtag(self, tag: str) -> None:
        if self.depth > 0 and tag not in VOID:
            if self.hidden_depth == self.depth:
                self.hidden_depth = None
            self.depth -= 1
            if self.depth == 0 and self.element_id is not None:
                self.depth = -1

    def handle_data(self, data: str) -> None:
        if self.depth > 0 and self.hidden_depth is None:
            self.parts.append(data)


def visible_text(html: str, element_id: str | None = None) -> str:
    """The visible text of the element with this id (or of the whole document)."""
    collector = _Collector(element_id)
    collector.feed(html)
    return re.sub(r"\s+", " ", " ".join(collector.parts)).strip()


def attributes(html: str, element_id: str) -> list[dict[str, str | None]]:
    """The attributes of every element with this id, in document order."""
    collector = _Collector(element_id)
    collector.feed(html)
    return collector.found


def form_token(html: str) -> str:
    """The CSRF token a form carries in its hidden field."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)
