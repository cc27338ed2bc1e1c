"""Is semantic search really on? Whether the model is prepared on this machine, and the
hook calls that matched by keyword only because it was not (shown by ``memctl stats``;
``keyword_fallbacks`` is what a health check such as ``memctl doctor`` reads;
docs/embeddings.md).

A hook never waits for the model's one-off export (seconds; ``embeddings.onnx``): when
the model is not prepared, or fails to load, ``pre-task`` ranks by keyword, says so in
one stderr line, and records it here. Light imports only: hooks and stats use this.
"""

from dataclasses import dataclass
from typing import Any

from memctl.clock import iso
from memctl.lifecycle.runs import count_occurrence
from memctl.store import log
from memctl.store.db import Database

# Fallbacks within an hour of the first add to one lifecycle-log row's count: a
# fallback on every prompt must not add a row per prompt.
WINDOW_S = 3600.0
NOT_PREPARED = "not prepared"


@dataclass
class KeywordFallbacks:
    count: int  # hook calls that matched by keyword only (within the period read)
    last_at: float | None = None
    hook: str | None = None  # of the latest
    reason: str | None = None  # of the latest: "not prepared", or the load error

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last_at": iso(self.last_at),
            "hook": self.hook,
            "reason": self.reason,
        }


def record_keyword_fallback(
    db: Database, tenant: str | None, now: float, hook: str, reason: str
) -> None:
    """Count one hook call that had to match by keyword only, and why."""
    count_occurrence(
        db,
        log.KEYWORD_FALLBACK,
        tenant=tenant,
        now=now,
        window_s=WINDOW_S,
        details={"hook": hook, "reason": reason, "last_at": now},
    )


def keyword_fallbacks(db: Database, tenant: str | None, since: float) -> KeywordFallbacks:
    """The keyword-only hook calls recorded since ``since`` (``tenant`` None: all)."""
    with db.read():
        count, details = log.occurrences(db, log.KEYWORD_FALLBACK, tenant, since)
    if not count or details is None:
        return KeywordFallbacks(0)
    last = details.get("last_at")
    return KeywordFallbacks(
        count=count,
        last_at=float(last) if isinstance(last, (int, float)) else None,
        hook=details.get("hook"),
        reason=details.get("reason"),
    )
