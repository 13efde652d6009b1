"""Audience questions during a show: do 300 questions and 3,000 votes a minute slow the presses?

Issue 12's target: with N viewers following, the press → viewer p99 under that question load is
at most 1.10 × the p99 without it. Both are measured in one run, on the same servers and the
same viewers: presses first on a quiet show, then while a load process asks, approves and votes
through the public API at the target's rates (5 questions and 50 votes a second), each request
relayed as the frontend relays its browsers (`X-Regie-Relay`, `X-Regie-Client` spread over many
addresses, each voter its own id), so the API's per-address limits see as many browsers as a
real audience has. The load runs in its own process: it must not share the orchestrator's GIL
with the press timings.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

QUESTIONS_PER_SECOND = 5.0
VOTES_PER_SECOND = 50.0
SEEDED = 10
"""Questions asked and approved before the load starts, so the first votes have a target."""
_LABEL = b"regie-frontend-relay"


def relay_credential(secret_key: str) -> str:
    """As `frontend.relay` makes it: the bench talks to the API like a frontend does."""
    return hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    asked: int
    approved: int
    votes: int
    refused: int
    """Answers other than 2xx (429s included): the load is bounded, not free."""
    errors: int
    """5xx answers and failed connections."""


class _Asker:
    def __init__(self, client: httpx.AsyncClient, slug: str, token: str, relay: str, run: str) -> None:
        self.client = client
        self.path = f"/api/v1/events/{slug}/questions"
        self.moderator = {"Authorization": f"Bearer {token}"}
        self.relay = relay
        self.run = run
        self.approved: list[str] = []
        self.asked = self.votes = self.refused = self.errors = 0
        self.limit = asyncio.Semaphore(32)

    def _headers(self, n: int) -> dict[str, str]:
        # Five questions per viewer, 240 voters per address: well under the API's limits.
        return {
            "X-Regie-Relay": self.relay,
            "X-Regie-Client": f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}",
        }

    def _count(self, response: httpx.Response | None) -> bool:
        if response is None or response.status_code >= 500:
            self.errors += 1
            return False
        if response.status_code >= 300:
            self.refused += 1
            return False
        return True

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        async with self.limit:
            try:
                return await self.client.request(method, path, **kwargs)
            except httpx.HTTPError:
                return None

    async def ask(self, n: int) -> None:
        body = {
            "text": f"Question n° {n} du banc d'essai {self.run} ?",
            "viewer": f"bench-{self.run}-{n // 5:06d}",
        }
        answer = await self._send("POST", self.path, json=body, headers=self._headers(n // 5))
        if not self._count(answer):
            return
        assert answer is not None
        self.asked += 1
        question = answer.json()["id"]
        moderated = await self._send(
            "POST", f"{self.path}/{question}/moderation", json={"action": "approve"}, headers=self.moderator
        )
        if self._count(moderated):
            self.approved.append(question)

    async def vote(self, n: int) -> None:
        if not self.approved:
            return
        question = self.approved[(n * 7919) % len(self.approved)]
        body = {"voter": f"bench-{self.run}-voter-{n:06d}"}
        answer = await self._send(
            "POST", f"{self.path}/{question}/votes", json=body, headers=self._headers(n // 240)
        )
        if self._count(answer):
            self.votes += 1


async def _load(url: str, slug: str, token: str, secret_key: str, seconds: float, pipe: Connection) -> None:
    run = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        asker = _Asker(client, slug, token, relay_credential(secret_key), run)
        await asyncio.gather(*(asker.ask(n) for n in range(SEEDED)))
        pipe.send("seeded")
        questions = int(QUESTIONS_PER_SECOND * seconds)
        votes = int(VOTES_PER_SECOND * seconds)
        schedule = sorted(
            [(n * seconds / questions, "ask", SEEDED + n) for n in range(questions)]
            + [(n * seconds / votes, "vote", n) for n in range(votes)]
        )
        started = time.monotonic()
        tasks = []
        for at, kind, n in schedule:
            wait = started + at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(asker.ask(n) if kind == "ask" else asker.vote(n)))
        await asyncio.gather(*tasks)
        report = LoadReport(
            seconds=time.monotonic() - started,
            asked=asker.asked,
            approved=len(asker.approved),
            votes=asker.votes,
            refused=asker.refused,
            errors=asker.errors,
        )
    pipe.send(report)


def _main(url: str, slug: str, token: str, secret_key: str, seconds: float, pipe: Connection) -> None:
    asyncio.run(_load(url, slug, token, secret_key, seconds, pipe))


class QuestionLoad:
    """The load process: seeded at start, then `seconds` of questions and votes."""

    def __init__(self, url: str, slug: str, token: str, secret_key: str, seconds: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(
            target=_main, args=(url, slug, token, secret_key, seconds, theirs), daemon=True
        )
        self._process.start()
        if self._pipe.recv() != "seeded":
            raise RuntimeError("the question load could not seed its first questions")

    def report(self) -> LoadReport:
        report: LoadReport = self._pipe.recv()
        self._process.join(10)
        return report
