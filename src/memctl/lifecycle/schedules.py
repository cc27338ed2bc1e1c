"""The ``schedule:`` entries of policies.yaml: a small, validated grammar.

every N minutes|hours|days|weeks    every minute|hour|day|week
hourly | daily | weekly             daily at HH:MM
weekly on monday [at HH:MM]
"""

import re
from dataclasses import dataclass

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_EVERY = re.compile(r"every\s+(?:(\d+)\s+)?(minute|hour|day|week)s?")
_AT = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Schedule:
    """``every`` units of ``unit``; ``at`` HH:MM for daily/weekly; ``day`` for weekly."""

    text: str
    every: int
    unit: str  # minute | hour | day | week
    at: str | None = None
    day: str | None = None

    @property
    def seconds(self) -> int:
        return self.every * _UNIT_SECONDS[self.unit]


def parse_schedule(text: str) -> Schedule:
    """Parse one schedule string; ValueError with the reason if it is not valid."""
    raw = " ".join(text.strip().lower().split())
    aliases = {"hourly": "every hour", "daily": "every day", "weekly": "every week"}
    head, _, at = raw.partition(" at ")
    head = aliases.get(head, head)
    day = None
    if head.startswith("weekly on ") or head.startswith("every week on "):
        day = head.rsplit(" ", 1)[1]
        if day not in _DAYS:
            raise ValueError(f"unknown day {day!r}")
        head = "every week"
    match = _EVERY.fullmatch(head)
    if not match:
        raise ValueError(
            f"cannot read schedule {text!r} (try 'every 15 minutes', 'daily at 02:00', 'weekly')"
        )
    every = int(match.group(1) or 1)
    unit = match.group(2)
    if every < 1:
        raise ValueError("the interval must be at least 1")
    if at:
        if unit not in ("day", "week") or every != 1:
            raise ValueError("'at HH:MM' goes with daily or weekly schedules")
        if not _AT.fullmatch(at):
            raise ValueError(f"time {at!r} is not HH:MM")
    return Schedule(text=text, every=every, unit=unit, at=at or None, day=day)
