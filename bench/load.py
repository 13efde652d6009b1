"""The pool of load processes that hold the viewers, driven from the bench over pipes."""

from __future__ import annotations

import multiprocessing
from array import array
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from bench.clients import Target, worker_main


class Load:
    """`processes` load processes; every command goes to all of them and waits for all answers."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes: list[BaseProcess] = []
        for _ in range(processes):
            mine, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs,), daemon=True)
            process.start()
            self._pipes.append(mine)
            self._processes.append(process)

    @classmethod
    def _of(cls, pipes: list[Connection]) -> Load:
        load = cls.__new__(cls)
        load._pipes, load._processes = pipes, []
        return load

    def split(self) -> tuple[Load, Load]:
        """Two views on disjoint halves of the processes (for viewers on two servers)."""
        half = max(1, len(self._pipes) // 2)
        return Load._of(self._pipes[:half]), Load._of(self._pipes[half:] or self._pipes[:half])

    def _all(self, command: str, shares: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for pipe, arguments in zip(self._pipes, shares, strict=True):
            pipe.send((command, arguments))
        return [pipe.recv() for pipe in self._pipes]

    def connect(
        self, target: Target, count: int, concurrency: int = 200
    ) -> tuple[int, float, int, list[str]]:
        """Open `count` viewers spread over the processes: (connected, seconds, message size, errors)."""
        n = len(self._pipes)
        shares = [
            {"target": target, "count": count // n + (i < count % n), "concurrency": concurrency}
            for i in range(n)
        ]
        answers = self._all("connect", shares)
        return (
            sum(answer["connected"] for answer in answers),
            max(answer["seconds"] for answer in answers),
            max(answer["size"] for answer in answers),
            [error for answer in answers for error in answer["failed"]],
        )

    def wait(self, version: int, timeout: float) -> tuple[list[float], int, float | None]:
        """Every viewer's arrival time of `version`, how many never got it, and when the server
        published it (from Régie's `server_time`; None for the baseline)."""
        answers = self._all("wait", [{"version": version, "timeout": timeout}] * len(self._pipes))
        times: list[float] = []
        for answer in answers:
            chunk = array("d")
            chunk.frombytes(answer["times"])
            times.extend(chunk)
        published = [answer["published"] for answer in answers if answer["published"] is not None]
        return times, sum(answer["lost"] for answer in answers), min(published, default=None)

    def storm_arm(self, version: int) -> None:
        """Every viewer that loses its connection from now on reconnects until it has `version`."""
        self._all("storm_arm", [{"version": version}] * len(self._pipes))

    def storm_wait(self, timeout: float) -> tuple[list[float], int, int, int]:
        """When each viewer was back on the state, and (missing, 5xx answers, connection attempts)."""
        answers = self._all("storm_wait", [{"timeout": timeout}] * len(self._pipes))
        times: list[float] = []
        for answer in answers:
            chunk = array("d")
            chunk.frombytes(answer["times"])
            times.extend(chunk)
        return (
            times,
            sum(answer["missing"] for answer in answers),
            sum(answer["server_errors"] for answer in answers),
            sum(answer["attempts"] for answer in answers),
        )

    def close(self) -> None:
        self._all("close", [{}] * len(self._pipes))

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("quit", {}))
                pipe.recv()
            except (OSError, EOFError):
                pass
        for process in self._processes:
            process.join(5)
            if process.is_alive():
                process.kill()
