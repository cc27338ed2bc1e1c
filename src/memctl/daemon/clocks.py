"""Where the daemon gets time from and how it waits.

Every decision reads one injectable :class:`Clock`, so tests drive the daemon through
simulated days with a :class:`SimulatedClock` whose ``sleep`` only moves time forward.
"""

import os
import time
from collections.abc import Callable
from typing import Protocol

from memctl import clock as memctl_clock


class Clock(Protocol):
    """Where the daemon gets time from and how it waits."""

    max_nap: float  # the longest single sleep (the schedule is re-read after each)

    def now(self) -> float: ...

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None: ...


class SystemClock:
    """The real clock. With ``MEMCTL_NOW`` set, time starts there and runs at real speed."""

    max_nap = 60.0  # re-read the schedule at least once a minute

    def __init__(self) -> None:
        self._fixed = bool(os.environ.get("MEMCTL_NOW"))
        self._start = memctl_clock.now()
        self._mono = time.monotonic()

    def now(self) -> float:
        if self._fixed:
            return self._start + (time.monotonic() - self._mono)
        return memctl_clock.now()

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        """Sleep in short steps so a stop request is honoured within a second."""
        deadline = time.monotonic() + seconds
        while not should_stop():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))


class SimulatedClock:
    """A clock for tests and what-if runs: ``sleep`` moves time forward instantly."""

    max_nap = float("inf")

    def __init__(self, start: float) -> None:
        self.time = start
        self.slept = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        self.time += max(seconds, 0.0)
        self.slept += max(seconds, 0.0)
