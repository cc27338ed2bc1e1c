"""Write batches sized by time, with pauses, so lifecycle jobs never starve writers.

Every lifecycle job moves rows in many short write transactions. A fixed row count is
the wrong unit: archiving a row costs ~40 µs, purging one with a vector ~200 µs (vec0
deletes are slow), decaying one ~5 µs, and a loaded machine stretches all of them.
``Batcher`` sizes each batch from the CPU time (user + system, of this thread) the
previous one took, aiming at ``TARGET_MS`` per transaction, between ``MIN_ROWS`` and
``MAX_ROWS``. CPU time rather than wall time, because on a loaded machine wall time
inflates every batch alike and shrinking them would only add work (measured: 500-row
median batches and +45% CPU for a 100k cleanup at load 8). Larger batches matter for
speed: each one rewrites the random index pages it touches, so 500-row batches write
~3x the WAL of 2,000-row ones.

Pauses: SQLite has no fair lock. A process waiting in ``BEGIN IMMEDIATE`` polls (1, 2,
5, ... then every 100 ms), so a job that commits and immediately begins again leaves it
no opening: measured, a ``memctl store`` waited up to 5.8 s during a 1M-row decay. So
after each batch the job sleeps ``IDLE_SHARE`` of that batch's wall time, and as long as
other connections are seen committing (``PRAGMA data_version``) a whole batch's wall
time (``BUSY_SHARE``), so waiting writers get in within a poll or two.

``MEMCTL_LIFECYCLE_BATCH=N`` fixes the size (tests, diagnosis). ``move_in_batches`` is
the loop every job that moves rows (archive, cleanup, prune) runs on top of it.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from memctl import limits
from memctl.progress import Progress
from memctl.store.bulk import commit_watcher
from memctl.store.db import Database

FIXED_SIZE = limits.Range(0, 10_000_000, "1 to 10000000 rows (0: adaptive)", whole=True)

T = TypeVar("T")

TARGET_MS = 100.0
FIRST_ROWS = 500
MIN_ROWS = 50
MAX_ROWS = 5000
IDLE_SHARE = 0.15  # pause after a batch, as a share of its wall time, when alone
BUSY_SHARE = 1.0  # ... while other writers are active
BUSY_BATCHES = 8  # how many batches "active" lasts after another commit is seen
MIN_PAUSE_S = 0.002
MAX_PAUSE_S = 0.25


class Batcher:
    """Yields consecutive slices (or id ranges) whose size adapts to the CPU time each
    took to process (the caller's loop body, i.e. its write transaction), pausing
    between them. ``others_committed`` (optional) tells whether another connection
    committed since it was last asked."""

    def __init__(
        self,
        first: int = FIRST_ROWS,
        lo: int = MIN_ROWS,
        hi: int = MAX_ROWS,
        target_ms: float = TARGET_MS,
        others_committed: Callable[[], bool] | None = None,
    ) -> None:
        fixed = limits.env_number("MEMCTL_LIFECYCLE_BATCH", 0, FIXED_SIZE)
        if fixed:
            first = lo = hi = int(fixed)
        self.size = max(lo, min(hi, first))
        self.lo, self.hi, self.target = lo, hi, target_ms / 1000
        self.others_committed = others_committed
        self.busy_left = 0
        self.sizes: list[int] = []
        self.paused_s = 0.0

    def _after(self, done: int, cpu: float, wall: float) -> None:
        self.sizes.append(done)
        wanted = done * self.target / max(cpu, 1e-4)
        self.size = int(max(self.lo, min(self.hi, wanted, self.size * 2)))
        if self.others_committed is not None and self.others_committed():
            self.busy_left = BUSY_BATCHES
        share = BUSY_SHARE if self.busy_left else IDLE_SHARE
        self.busy_left = max(0, self.busy_left - 1)
        pause = min(MAX_PAUSE_S, max(MIN_PAUSE_S, wall * share))
        self.paused_s += pause
        time.sleep(pause)

    def slices(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        start = 0
        while start < len(items):
            batch = items[start : start + self.size]
            cpu, wall = time.thread_time(), time.perf_counter()
            yield batch
            start += len(batch)
            if start < len(items):
                self._after(len(batch), time.thread_time() - cpu, time.perf_counter() - wall)

    def ranges(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """Inclusive id ranges covering [lo, hi]."""
        first = lo
        while first <= hi:
            last = min(hi, first + self.size - 1)
            cpu, wall = time.thread_time(), time.perf_counter()
            yield first, last
            done, first = last - first + 1, last + 1
            if first <= hi:
                self._after(done, time.thread_time() - cpu, time.perf_counter() - wall)


def move_in_batches(
    db: Database,
    items: Sequence[T],
    move: Callable[[Sequence[T]], Sequence[T]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    batcher: Batcher | None = None,
) -> Iterator[Sequence[T]]:
    """The one loop of archive, cleanup and prune: ``move`` each batch of ``items`` in its
    own short write transaction and yield what it moved (the rows that were still there
    and still due: ``move`` re-checks them inside the write, so a concurrent store wins).

    Batches are sized by time and paced by ``Batcher``; ``progress`` advances by each
    batch. A dry run writes nothing and yields every item as one batch.
    """
    if dry_run:
        if items:
            yield items
        return
    batches = batcher or Batcher(others_committed=commit_watcher(db))
    for batch in batches.slices(items):
        with db.write():
            moved = move(batch)
        yield moved
        if progress is not None:
            progress.advance(len(batch))
