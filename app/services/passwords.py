"""Password hashing off the event loop, with bounded concurrency.

argon2id is meant to be slow (tens of milliseconds of CPU per hash) and its C code releases the
GIL: run in a thread, it leaves the event loop free to serve the live pages and the presses. Run on
the loop, as it once was, four clients posting wrong passwords raised `GET /live` from 4 to 524 ms.

The pool is small on purpose (one thread by default, as a show's machine has few cores to spare),
and so is the queue in front of it: a login that would wait behind more than `max_pending` others
is refused at once (`HashingBusy`, answered 429) instead of piling up work that would still burn
CPU after its client has given up. The API's login throttle (`app.api.login_throttle`) keeps a
flood from ever reaching that far; this bound is the backstop when the flood comes from many
addresses at once.

The bound is a `threading.BoundedSemaphore`, not an asyncio one: the hasher outlives event loops
(tests run one per test) and is released from the worker thread.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash

T = TypeVar("T")


class HashingBusy(Exception):
    """Too many password checks are already waiting: the caller should try again shortly."""


class PasswordHasher:
    def __init__(self, *, threads: int = 1, max_pending: int = 16) -> None:
        self._hash = PasswordHash.recommended()  # argon2id with the library's current parameters
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        self._pending = threading.BoundedSemaphore(max_pending)
        # Verified against when the user does not exist, so an unknown name costs the same time as
        # a wrong password and the two cannot be told apart.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    async def _run(self, work: Callable[[], T]) -> T:
        if not self._pending.acquire(blocking=False):
            raise HashingBusy("too many password checks are waiting")

        def run() -> T:
            try:
                return work()
            finally:
                self._pending.release()

        try:
            future = self._executor.submit(run)
        except BaseException:
            self._pending.release()
            raise
        return await asyncio.wrap_future(future)

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hash.hash(password))

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether `password` matches; `None` (no such user) costs one verify all the same."""
        if password_hash is None:
            await self._run(lambda: self._hash.verify(password, self._dummy))
            return False
        return await self._run(lambda: self._hash.verify(password, password_hash))


hasher = PasswordHasher()
