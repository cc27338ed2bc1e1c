"""Compaction: rebuild the vec0 index when deletions fragmented it, then VACUUM.

vec0 stores vectors in chunks of ``chunk_size`` slots and never reuses the slot of a
deleted row (NOTES-sqlite.md), and ``VACUUM`` cannot shrink that. When at least
``REBUILD_DEAD_SHARE`` of the slots (and at least one whole chunk) are dead, the table
is rebuilt in one write transaction (drop, recreate from its own DDL, refill): a kill
at any instant leaves the old or the new table, and readers keep reading their snapshot
meanwhile. Writers wait for it (~1.4 s at 50k vectors on a busy 2-core machine,
``scripts/bench_lifecycle.py --compact``), and it cannot be split: a vec0 table cannot
be renamed, so no new index can be built beside the old one, and a half-refilled index
would disagree with the memories table after a kill. That is why it runs only when
worthwhile (or with ``force``) and the daemon runs it weekly.

The free pages then go back to the file system when they are at least
``VACUUM_FREE_SHARE`` of the file, in short steps (``store.compact.vacuum``): a full
VACUUM kept writers waiting 2.6 s at 50k vectors. A database created before that is
switched by one full VACUUM the first time.
"""

from dataclasses import asdict, dataclass
from typing import Any

from memctl import clock
from memctl.lifecycle.runs import logged_run
from memctl.store import compact as sql
from memctl.store.db import Database

REBUILD_DEAD_SHARE = 0.2
VACUUM_FREE_SHARE = 0.1
VACUUM_MIN_BYTES = 1 << 20


@dataclass
class CompactReport:
    count: int = 0  # vectors copied into the rebuilt index (0: not rebuilt)
    duration_ms: float = 0.0
    rebuilt: bool = False
    vacuumed: bool = False
    full_vacuum: bool = False  # switched to incremental vacuum by one full VACUUM
    vectors: int = 0
    dead_slots_before: int = 0
    chunks_before: int = 0
    chunks_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    free_bytes_before: int = 0
    reason: str = ""
    dry_run: bool = False  # what would be done; nothing was

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def needs_rebuild(stats: sql.VecStats) -> bool:
    return stats.dead_slots >= max(stats.chunk_size, REBUILD_DEAD_SHARE * stats.slots)


def needs_vacuum(stats: sql.VecStats) -> bool:
    free = stats.free_pages * stats.page_size
    return free >= VACUUM_MIN_BYTES and stats.free_pages >= VACUUM_FREE_SHARE * stats.pages


def compact(
    db: Database, *, force: bool = False, now: float | None = None, dry_run: bool = False
) -> CompactReport:
    """Rebuild the vector index if fragmented and VACUUM if worthwhile (always with
    ``force``); logged as ``compacted`` when anything was done. ``dry_run``: say what
    would be done (``rebuilt``, ``vacuumed``), do nothing (and log nothing)."""
    started_at = clock.now() if now is None else now
    with logged_run(db, "compacted", tenant=None, now=started_at, record=not dry_run) as run:
        with db.read():
            before = sql.vec_stats(db)
        report = CompactReport(
            vectors=before.rows,
            dead_slots_before=before.dead_slots,
            chunks_before=before.chunks,
            bytes_before=before.pages * before.page_size,
            free_bytes_before=before.free_pages * before.page_size,
        )
        reasons = []
        if dry_run:
            report.dry_run = True
            report.rebuilt = force or needs_rebuild(before)
            report.vacuumed = force or needs_vacuum(before)
            if report.rebuilt:
                reasons.append("forced" if force else f"{before.dead_slots} dead vector slots")
            if report.vacuumed and not force:
                reasons.append(f"{before.free_pages * before.page_size} free bytes")
            report.reason = "; ".join(reasons) or "not fragmented"
            report.duration_ms = run.elapsed_ms()
            return report
        if force or needs_rebuild(before):
            report.count = sql.rebuild_vectors(db)
            report.rebuilt = True
            reasons.append("forced" if force else f"{before.dead_slots} dead vector slots")
        with db.read():
            middle = sql.vec_stats(db)
        if force or needs_vacuum(middle):
            report.full_vacuum = sql.vacuum(db)
            report.vacuumed = True
            reasons.append(f"{middle.free_pages * middle.page_size} free bytes")
        with db.read():
            after = sql.vec_stats(db)
        report.vectors = after.rows
        report.chunks_after = after.chunks
        report.bytes_after = after.pages * after.page_size
        report.reason = "; ".join(reasons) or "not fragmented"
        report.duration_ms = run.elapsed_ms()
        run.count = report.count
        run.details = report.to_dict()
        if not (report.rebuilt or report.vacuumed):
            run.skip()
    return report
