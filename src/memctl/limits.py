"""The allowed range of every number memctl takes in: one home for the rule.

Command-line options, ``MEMCTL_NOW``, policies, import records and the store request
every writer builds all check their numbers here (a future HTTP or MCP body does too:
``check`` and ``problem`` take plain values). A number outside its range is refused
with exit 2 and one line naming the range, before anything is written: an accepted
out-of-range time once made every later ``list``/``export`` of the tenant fail.

Times are epoch seconds from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Every time
memctl keeps must print as ISO 8601 (exports, ``--json``) and Python's ``datetime``
ends at year 9999; nothing an agent remembers happened before 1970, and a negative
epoch is far more likely a typo than a date. Durations (TTLs, ages) go up to the width
of that range; a write time plus a TTL that reaches past its end expires at the end
(``clamp_time``), which is as good as never.
"""

import math
import os
from dataclasses import dataclass
from typing import Any

from memctl.errors import BadInput

TIME_MIN = 0.0  # 1970-01-01T00:00:00Z
TIME_MAX = 253_402_300_799.0  # 9999-12-31T23:59:59Z
DAY = 86_400.0
COUNT_MAX = 2**63 - 1  # SQLite's largest integer: a bigger count cannot be a query parameter


class OutOfRange(BadInput):
    """A number outside its allowed range (exit 2, like any bad input)."""


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    text: str  # how the range reads in an error message
    whole: bool = False  # whole numbers only


TIME = Range(
    TIME_MIN,
    TIME_MAX,
    "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z, epoch seconds 0 to 253402300799",
)
DURATION = Range(0.0, TIME_MAX - TIME_MIN, "0 to 253402300799 seconds, about 8000 years")
DAYS = Range(0.0, (TIME_MAX - TIME_MIN) / DAY, "0 to 2932896 days, about 8000 years")
IMPORTANCE = Range(1.0, 10.0, "1 to 10")
# decay may take importance down to its floor, which may be 0: what is kept is 0-10
KEPT_IMPORTANCE = Range(0.0, 10.0, "0 to 10")
REWARD = Range(0.0, 1.0, "0 to 1")
SCORE = Range(0.0, 1.0, "0 to 1")
COUNT = Range(0, COUNT_MAX, f"whole numbers 0 to {COUNT_MAX}", whole=True)
POSITIVE_COUNT = Range(1, COUNT_MAX, f"whole numbers 1 to {COUNT_MAX}", whole=True)
# How many memories one search (command line or wire) or one wire page may return: a
# result is read by a person or a model, and 1,000 full memories is already far more
# than a context holds; search also ranks at least this many candidates per side, so an
# unbounded limit reached SQLite as a LIMIT too large for an integer (exit 3). (The
# command line's ``list --limit`` keeps COUNT: 0 lists everything.)
RESULTS_MAX = 1000
RESULTS = Range(1, RESULTS_MAX, f"whole numbers 1 to {RESULTS_MAX}", whole=True)


def problem(value: Any, allowed: Range) -> str | None:
    """Why ``value`` is not a number within ``allowed``, or None if it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "is not a number"
    if allowed.whole and not isinstance(value, int):
        return f"is not a whole number (allowed: {allowed.text})"
    if not math.isfinite(value) or not allowed.lo <= value <= allowed.hi:
        return f"is out of range (allowed: {allowed.text})"
    return None


def check(value: Any, what: str, allowed: Range, shown: str | None = None) -> Any:
    """``value`` if it is within ``allowed``; else OutOfRange naming ``what`` (an option
    or field) and the range. ``shown`` is the text the user gave, when there was one."""
    why = problem(value, allowed)
    if why is not None:
        raise OutOfRange(f"{what} {shown if shown is not None else _show(value)} {why}")
    return value


def check_optional(value: Any, what: str, allowed: Range) -> Any:
    return None if value is None else check(value, what, allowed)


def env_number(name: str, default: float, allowed: Range) -> float:
    """The number in environment variable ``name`` (``default`` when unset or empty),
    within ``allowed``; OutOfRange names the variable otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value: float = int(text) if allowed.whole else float(text)
    except ValueError:
        kind = "a whole number" if allowed.whole else "a number"
        raise OutOfRange(f"{name}={text!r} is not {kind} (allowed: {allowed.text})") from None
    return float(check(value, name, allowed, repr(text)))


def clamp_time(ts: float) -> float:
    """A computed time (a write time plus a TTL) brought into the time range."""
    return min(max(ts, TIME_MIN), TIME_MAX)


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)
