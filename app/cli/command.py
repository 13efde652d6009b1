"""What every `regie` command shares: a mistake the user can fix is one line, never a traceback."""

from __future__ import annotations

from typing import NoReturn


class CommandError(Exception):
    """A mistake the user can fix; its message is the whole answer."""


def fail(message: str) -> NoReturn:
    raise CommandError(message)
