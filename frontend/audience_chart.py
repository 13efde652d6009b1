"""The audience curve of a show as a small SVG, drawn on the server: no script, no library.

Moderators see it on the replay page. The drawing is only a picture of the numbers: the figure
says in words what it shows (peak, span), and the numbers themselves follow in a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 24


@dataclass(frozen=True, slots=True)
class AudiencePoint:
    minute: datetime
    viewers: int


@dataclass(frozen=True, slots=True)
class AudienceChart:
    points: tuple[AudiencePoint, ...]

    @property
    def peak(self) -> AudiencePoint:
        return max(self.points, key=lambda point: point.viewers)

    @property
    def top(self) -> int:
        """The y axis's top: the peak, at least 1 (a show nobody watched still draws)."""
        return max(1, self.peak.viewers)

    def x(self, index: int) -> float:
        span = max(1, len(self.points) - 1)
        return round(LEFT + (WIDTH - LEFT - RIGHT) * index / span, 1)

    def y(self, viewers: int) -> float:
        return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - viewers / self.top), 1)

    @property
    def polyline(self) -> str:
        """The curve's `points` attribute; one point alone is drawn as a flat line."""
        coordinates = [(self.x(i), self.y(p.viewers)) for i, p in enumerate(self.points)]
        if len(coordinates) == 1:
            coordinates.append((float(WIDTH - RIGHT), coordinates[0][1]))
        return " ".join(f"{x},{y}" for x, y in coordinates)

    @property
    def baseline(self) -> float:
        return float(HEIGHT - BOTTOM)


def audience_chart(payload: object) -> AudienceChart | None:
    """The chart of `GET …/audience/curve`'s answer; None when it has no point (or is malformed)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("points"), list):
        return None
    points = []
    for raw in payload["points"]:
        try:
            minute = datetime.fromisoformat(str(raw["at"]).replace("Z", "+00:00"))
            points.append(AudiencePoint(minute=minute, viewers=max(0, int(raw["viewers"]))))
        except (KeyError, TypeError, ValueError):
            return None
    return AudienceChart(points=tuple(points)) if points else None
