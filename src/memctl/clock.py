"""The one clock every command reads (docs/expiry.md).

``MEMCTL_NOW`` replaces the system time: epoch seconds or ISO 8601 (a simulation clock
for tests and replays: everything happens at that time, writes included), or ``+2h`` /
``-3d`` relative to the system clock. A clock moved forward that way is a look ahead
(``looking_ahead``): reads show what would be visible then and write nothing, so trying
expiry out never leaves future-dated rows behind (docs/expiry.md). Nothing else in
memctl may call ``time.time()`` for lifecycle decisions.
"""

import os
import time
from datetime import UTC, datetime

from memctl import limits
from memctl.errors import BadInput

DAY = limits.DAY  # seconds; defined once, in limits (the layer below this one)


def parse_time(text: str, what: str = "time") -> float:
    """Epoch seconds (int or float) or ISO 8601 (naive means UTC) to epoch seconds,
    within ``limits.TIME`` (OutOfRange otherwise)."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadInput(f"{what} {text!r} is neither epoch seconds nor ISO 8601") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = parsed.timestamp()
    return float(limits.check(value, what, limits.TIME, repr(text)))


def now() -> float:
    """Current time in epoch seconds: ``MEMCTL_NOW`` if set, else the system clock."""
    override = os.environ.get("MEMCTL_NOW")
    if override:
        raw = override.strip()
        if raw[:1] in ("+", "-") and raw[-1:].isalpha():  # +2h, -3d: from the system clock
            sign = -1.0 if raw[0] == "-" else 1.0
            value = time.time() + sign * parse_duration(raw[1:], "MEMCTL_NOW")
            return float(limits.check(value, "MEMCTL_NOW", limits.TIME, repr(override)))
        return parse_time(override, "MEMCTL_NOW")
    return time.time()


def looking_ahead() -> bool:
    """``MEMCTL_NOW=+DURATION``: the clock is moved forward from now to look ahead."""
    raw = os.environ.get("MEMCTL_NOW", "").strip()
    return raw.startswith("+") and raw[-1:].isalpha()


def utc(ts: float) -> datetime:
    """Epoch seconds as an aware UTC datetime. Never raises: a time outside
    ``limits.TIME`` (refused on input now, but older versions stored some) shows as the
    nearest end of the range, so one bad row cannot stop a ``list`` or an ``export``."""
    if ts != ts:  # NaN
        ts = limits.TIME_MIN
    return datetime.fromtimestamp(limits.clamp_time(ts), UTC)


def iso(ts: float | None) -> str | None:
    """Epoch seconds to ISO 8601 in UTC with millisecond precision (None stays None)."""
    if ts is None:
        return None
    return utc(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_duration(text: str, what: str = "duration") -> float:
    """'90', '90s', '15m', '2h', '7d', '2w' to seconds, within ``limits.DURATION``."""
    raw = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
    try:
        value = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a number of seconds or like 15m, 2h, 7d") from None
    return float(limits.check(value, what, limits.DURATION, repr(text)))
