"""What the consoles of one event share in this process: the bearers of the moderators whose
console is open, and the fragments read with one of them once for all.

The backend signals, to this frontend's own subscription only, that something moderators see
has changed (the questions queue): a count, never a name or a text. A `ConsoleReader` then
reads that fragment's data once with the bearer of any console open here,
renders it once and pushes it to every console; a burst of signals while a read is in flight
costs one more read, not one per signal. A bearer the API refuses (401, 403: revoked, expired)
is dropped and the next one is tried; that console itself is closed by its own watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The API refused this bearer (401 or 403): try another console's."""


Read = Callable[[str], Awaitable[str | None]]
"""Reads and renders the fragment with one bearer; None when it could not be read (kept as is)."""

Publish = Callable[[str, str], None]
"""Sends a rendered fragment to every viewer of an audience (`console`)."""


class ModeratorBearers:
    """The API tokens of the consoles open here for one event, by handle."""

    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}
        self._handles = itertools.count()
        self._readers: list[ConsoleReader] = []

    def add(self, token: str) -> int:
        """A console opened here: its bearer may read for every console; the first one reads."""
        handle = next(self._handles)
        self._tokens[handle] = token
        for reader in self._readers:
            if reader.message is None:
                reader.changed()
        return handle

    def remove(self, handle: int) -> None:
        self._tokens.pop(handle, None)

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def items(self) -> list[tuple[int, str]]:
        return list(self._tokens.items())

    def watch(self, reader: ConsoleReader) -> None:
        self._readers.append(reader)


class ConsoleReader:
    """One fragment of every console of an event, read again on each signal."""

    def __init__(self, name: str, bearers: ModeratorBearers, *, read: Read, publish: Publish) -> None:
        self.name = name
        self._bearers = bearers
        self._read = read
        self._publish = publish
        self.message: str | None = None
        """The fragment as last pushed, for a console that opens after it."""
        self.reads = 0
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        bearers.watch(self)

    @property
    def reading(self) -> bool:
        """Whether a read is in flight (or due)."""
        return self._task is not None

    def changed(self) -> None:
        """Read again, once, if a console is open here."""
        if not self._bearers:
            return
        self._dirty = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-read")

    async def _run(self) -> None:
        try:
            while self._dirty and self._bearers:
                self._dirty = False
                html = await self._read_once()
                if html is not None and html != self.message:
                    self.message = html
                    self._publish("console", html)
        except Exception:  # the next signal tries again; consoles keep what they show
            logger.exception("could not read the consoles' %s", self.name)
        finally:
            self._task = None

    async def _read_once(self) -> str | None:
        for handle, token in self._bearers.items():
            self.reads += 1
            try:
                return await self._read(token)
            except Refused:
                self._bearers.remove(handle)
        return None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
