"""Examples of the JSON reads for the OpenAPI document, taken from the reference show.

They were produced by the API itself (the reference show started four minutes late, on its
second item; the programme cut to a few items), and are kept in `examples.json` beside this
module so that they read as what a client receives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("examples.json")).read_text(encoding="utf-8")
)


def example(name: str) -> dict[str, Any]:
    """The `ok` part of `read_responses`: an `application/json` example of one read."""
    return {"content": {"application/json": {"example": _EXAMPLES[name]}}}
