"""The one clock every command reads (docs/expiry.md).

``MEMCTL_NOW`` (epoch seconds or ISO 8601) replaces the system time. Nothing else in
memctl may call ``time.time()`` for lifecycle decisions.
"""

import os
import time
from datetime import UTC, datetime

from memctl.errors import BadInput


def parse_time(text: str, what: str = "time") -> float:
    """Epoch seconds (int or float) or ISO 8601 (naive means UTC) to epoch seconds."""
    raw = text.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadInput(f"{what} {text!r} is neither epoch seconds nor ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def now() -> float:
    """Current time in epoch seconds: ``MEMCTL_NOW`` if set, else the system clock."""
    override = os.environ.get("MEMCTL_NOW")
    if override:
        return parse_time(override, "MEMCTL_NOW")
    return time.time()


def iso(ts: float | None) -> str | None:
    """Epoch seconds to ISO 8601 in UTC with millisecond precision (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '2h', '7d', '2w' to seconds."""
    raw = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        value = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise BadInput(
            f"duration {text!r} is not a number of seconds or like 15m, 2h, 7d"
        ) from None
    if value < 0:
        raise BadInput(f"duration {text!r} is negative")
    return value
