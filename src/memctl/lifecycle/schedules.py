"""The ``schedule:`` entries of policies.yaml: a small, validated grammar.

every N minutes|hours|days|weeks    every minute|hour|day|week
hourly | daily | weekly             daily at HH:MM
weekly on monday [at HH:MM]

``next_run`` says when a job on a schedule is due next. Times are local, like cron:
"daily at 02:00" is 02:00 on this machine's clock. The rules are those of the
``schedule`` library the daemon used before (kept so existing set-ups run at the same
moments): the next slot strictly after now; ``every N <unit>`` counts from now; a
weekday or ``at`` pins the slot, then whole periods are added until it is in the future.
"""

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from memctl.clock import DAY

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": int(DAY), "week": int(7 * DAY)}
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


def fix_weekday(plan: Schedule, now: float) -> Schedule:
    """``weekly at HH:MM`` with no day runs on the weekday the daemon started (``now``)."""
    if plan.unit == "week" and plan.at and not plan.day:
        return replace(plan, day=_DAYS[datetime.fromtimestamp(now).weekday()])
    return plan


def next_run(plan: Schedule, now: float) -> float:
    """The first time after ``now`` (epoch seconds) at which ``plan`` is due."""
    current = datetime.fromtimestamp(now)  # naive local time, as cron reads it
    moment = current
    if plan.day is not None:
        moment += timedelta(days=(_DAYS.index(plan.day) - moment.weekday()) % 7)
    if plan.at is not None:
        hour, minute = (int(part) for part in plan.at.split(":"))
        moment = moment.replace(hour=hour, minute=minute, second=0, microsecond=0)
    period = timedelta(weeks=1) if plan.day is not None else timedelta(seconds=plan.seconds)
    if plan.every != 1:
        moment += period
    while moment <= current:
        moment += period
    return moment.timestamp()
