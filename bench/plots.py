"""The bench's pictures, written beside `results/latest.md`: what a table's p99 hides.

One picture per N: for each server, the distribution of press → arrival over every (viewer,
press) pair, as the share of viewers served by each delay. And the reconnect storm: how many
viewers are back on the current state, against the seconds since the server was restarted.
matplotlib (a dev dependency) draws them; without it the bench still writes its tables.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.__main__ import Fanout, Storm


def draw(directory: Path, fanouts: list[tuple[Fanout, Fanout | None]], storms: list[Storm]) -> list[str]:
    """Write the pictures; returns their file names (none if matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    directory.mkdir(exist_ok=True)
    names: list[str] = []
    by_count: dict[int, list[Fanout]] = defaultdict(list)
    for result, _ in fanouts:
        by_count[result.requested].append(result)
    for count, results in sorted(by_count.items()):
        figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
        for result in results:
            ordered = sorted(result.latencies)
            if not ordered:
                continue
            shares = [(i + 1) / len(ordered) for i in range(len(ordered))]
            axes.plot([value * 1000 for value in ordered], shares, label=_short(result.target))
        axes.set_xlabel("press → arrival (ms)")
        axes.set_ylabel("share of (viewer, press) pairs")
        axes.set_title(f"{count:,} viewers: delay from a press to each viewer")
        axes.axhline(0.99, color="grey", linewidth=0.5, linestyle=":")
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right")
        name = f"latency-{count}.png"
        _save(figure, directory / name, plt)
        names.append(name)
    if storms:
        figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
        for storm in storms:
            back = sorted(storm.back)
            axes.plot(back, range(1, len(back) + 1), label=f"{_short(storm.target)} ({storm.viewers:,})")
            axes.axvline(storm.serving_after, color="grey", linewidth=0.5, linestyle=":")
        axes.set_xlabel("seconds since the restart")
        axes.set_ylabel("viewers back on the current state")
        axes.set_title("Reconnect storm (dotted: the new process serving)")
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right")
        name = "reconnect.png"
        _save(figure, directory / name, plt)
        names.append(name)
    return names


def _short(target: str) -> str:
    return target.replace("`", "")


def _save(figure: Any, path: Path, plt: Any) -> None:
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
