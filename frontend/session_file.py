"""Moderators' sessions kept in a file (`var/sessions.json` under `regie up`), so that restarting
the one process of the embedded default in the middle of a show does not send the console back to
the login page.

The file holds what the Redis store holds, no more: each session under a digest of its id, with
its API token sealed under that id (`frontend.session_tokens`), written whole to a temporary file
then renamed (a crash leaves the old file or the new one, never half of one), mode 0600. It is
rewritten on login and logout only; the idle expiry is kept in memory and starts afresh after a
restart, which is what a moderator who was using the console expects. A file this small needs
no database, and sharing it between processes is what REGIE_BROADCAST_URL=redis://… is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontend.session_tokens import seal, session_key, unseal
from frontend.sessions import Clock, ModeratorSession, new_session_id

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Record:
    username: str
    sealed_token: str
    created_at: float
    last_seen: float


class FileSessionStore:
    def __init__(
        self, path: Path, *, idle_seconds: float, max_sessions: int = 1_000, clock: Clock = time.time
    ) -> None:
        self._path = path
        self._idle = idle_seconds
        self._max = max_sessions
        self._clock = clock
        self._records: dict[str, _Record] = self._load()
        self._writing = asyncio.Lock()

    def _load(self) -> dict[str, _Record]:
        try:
            raw: Any = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning(
                "moderators' sessions in %s cannot be read (%s): starting without", self._path, error
            )
            return {}
        now = self._clock()
        records = {}
        for key, entry in (raw.get("sessions", {}) if isinstance(raw, dict) else {}).items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                records[str(key)] = _Record(
                    str(entry["username"]), str(entry["sealed_token"]), float(entry["created_at"]), now
                )
        return records

    def _write(self, snapshot: dict[str, dict[str, Any]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_name(self._path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"sessions": snapshot}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self._path)

    async def _save(self) -> None:
        snapshot = {
            key: {"username": r.username, "sealed_token": r.sealed_token, "created_at": r.created_at}
            for key, r in self._records.items()
        }
        async with self._writing:
            await asyncio.to_thread(self._write, snapshot)

    async def create(self, username: str, api_token: str) -> ModeratorSession:
        now = self._clock()
        session = ModeratorSession(new_session_id(), username, api_token, now, now)
        self._records[session_key(session.id)] = _Record(username, seal(session.id, api_token), now, now)
        while len(self._records) > self._max:
            del self._records[min(self._records, key=lambda k: self._records[k].last_seen)]
        await self._save()
        return session

    async def get(self, session_id: str | None) -> ModeratorSession | None:
        if not session_id:
            return None
        key = session_key(session_id)
        record = self._records.get(key)
        if record is None:
            return None
        now = self._clock()
        token = unseal(session_id, record.sealed_token)
        if token is None or now - record.last_seen > self._idle:
            await self.delete(session_id)
            return None
        record.last_seen = now
        return ModeratorSession(session_id, record.username, token, record.created_at, now)

    async def delete(self, session_id: str | None) -> None:
        if session_id and self._records.pop(session_key(session_id), None) is not None:
            await self._save()

    async def aclose(self) -> None:
        return None
