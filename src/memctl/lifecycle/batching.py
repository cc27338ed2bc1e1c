"""Write batches sized by time, so a lifecycle job never holds the write lock long.

Every lifecycle job moves rows in many short write transactions. A fixed row count is
the wrong unit: archiving a row costs ~40 µs, purging one with a vector ~200 µs (vec0
deletes are slow), decaying one ~5 µs, and a loaded machine stretches all of them.
``Batcher`` sizes each batch from the CPU time (user + system, of this thread) the
previous one took, aiming at ``TARGET_MS`` per transaction, between ``MIN_ROWS`` and
``MAX_ROWS``: on an idle machine a concurrent ``memctl store`` waits about that long
plus SQLite's busy-handler polling. CPU time rather than wall time, because on a loaded
machine wall time inflates every batch alike and shrinking them would only add work
(measured: 500-row median batches and +45% CPU for a 100k cleanup at load 8).
Larger batches matter for speed: each one rewrites the random index pages it touches,
so 500-row batches write ~3x the WAL of 2,000-row ones.

``MEMCTL_LIFECYCLE_BATCH=N`` fixes the size (tests, diagnosis).
"""

import os
import time
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

TARGET_MS = 100.0
FIRST_ROWS = 500
MIN_ROWS = 50
MAX_ROWS = 5000


class Batcher:
    """Yields consecutive slices whose size adapts to the time each one took to
    process (the caller's loop body, i.e. its write transaction)."""

    def __init__(
        self,
        first: int = FIRST_ROWS,
        lo: int = MIN_ROWS,
        hi: int = MAX_ROWS,
        target_ms: float = TARGET_MS,
    ) -> None:
        fixed = os.environ.get("MEMCTL_LIFECYCLE_BATCH")
        if fixed:
            first = lo = hi = max(1, int(fixed))
        self.size = max(lo, min(hi, first))
        self.lo, self.hi, self.target = lo, hi, target_ms / 1000
        self.sizes: list[int] = []

    def _adapt(self, done: int, elapsed: float) -> None:
        wanted = done * self.target / max(elapsed, 1e-4)
        self.size = int(max(self.lo, min(self.hi, wanted, self.size * 2)))

    def slices(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        start = 0
        while start < len(items):
            batch = items[start : start + self.size]
            began = time.thread_time()
            yield batch
            self.sizes.append(len(batch))
            self._adapt(len(batch), time.thread_time() - began)
            start += len(batch)

    def ranges(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """Inclusive id ranges covering [lo, hi]."""
        first = lo
        while first <= hi:
            last = min(hi, first + self.size - 1)
            began = time.thread_time()
            yield first, last
            self.sizes.append(last - first + 1)
            self._adapt(last - first + 1, time.thread_time() - began)
            first = last + 1
