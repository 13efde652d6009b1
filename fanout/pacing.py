"""How often a bulky side message (the audience's question list) may go to every viewer.

The live state goes out at once, always. The question list changes with every vote and goes to
every viewer too, at most once a second; but its cost is its size times the audience: 5 KB to
10,000 viewers is 50 MB a second of writes, which left every press's live state waiting behind
it (bench/README.md, « Audience questions during the show »). So the interval between two lists
grows with that product, within bounds: a list to a few hundred viewers still goes every second,
to a very large audience every few seconds — the votes arrive a little later, a press never
does.
"""

from __future__ import annotations

BYTES_PER_SECOND = 4_000_000
"""What the side messages may cost on average, summed over the viewers of one process."""

FLOOR = 1.0
CEILING = 10.0


def side_interval(size: int, viewers: int) -> float:
    """Seconds to leave after a side message of `size` bytes sent to `viewers`."""
    return min(CEILING, max(FLOOR, size * viewers / BYTES_PER_SECOND))
