"""What ends with an agent session (lifecycle seed): its scratch memories.

Scratch memories are ``session/<id>`` (a memory at exactly that path), everything under
``session/<id>/`` and under ``coordination/<id>/``. At session end they are archived
(reason ``session-end``), so they can still be restored.
"""

from memctl.lifecycle import events
from memctl.lifecycle.runs import logged_run
from memctl.store import memories, moves
from memctl.store import sessions as sql
from memctl.store.db import Database

ARCHIVE_REASON = "session-end"


def scratch_ids(db: Database, tenant: str, session_id: str) -> list[int]:
    found = set(sql.ids_at_path(db, tenant, f"session/{session_id}"))
    found.update(sql.ids_under(db, tenant, f"session/{session_id}/"))
    found.update(sql.ids_under(db, tenant, f"coordination/{session_id}/"))
    return sorted(found)


def archive_session(
    db: Database, now: float, tenant: str, session_id: str, trigger: str = "hook session-end"
) -> list[str]:
    """Archive the session's scratch memories in one transaction; their paths, sorted.
    Logged as ``archived`` (nothing is logged when there was nothing to archive)."""
    details = {"trigger": trigger, "session_id": session_id}
    with db.write(), logged_run(db, "archived", tenant=tenant, now=now, details=details) as run:
        ids = scratch_ids(db, tenant, session_id)
        if not ids:
            run.skip()
            return []
        paths = [m.path for m in memories.get_many(db, ids).values()]
        events.emit(
            db, events.ARCHIVED, tenant, now, count=len(ids), ids=ids, reason=ARCHIVE_REASON
        )
        run.count = moves.archive(db, ids, ARCHIVE_REASON, now)
    return sorted(paths)
