"""``memctl hook session-end``: archive the session's scratch memories, lazily clean up
expired coordination data, and keep a summary of the session (its tasks with their
outcomes, ``session-summaries/<id>``: ``lifecycle.session_summary``).

Scratch memories (lifecycle seed): ``session/<id>`` (a memory at exactly that path),
everything under ``session/<id>/`` and under ``coordination/<id>/``. They are archived
(reason ``session-end``), so they can still be restored. No embedding code is imported:
this runs inside Claude Code's 1.5 s SessionEnd budget.
"""

import time
from typing import Any

from memctl.hooks.context import HookContext, clean_coordination, clip
from memctl.store import log
from memctl.store import memories as sql
from memctl.store.sessions import ids_at_path, ids_under

ARCHIVE_REASON = "session-end"


def scratch_ids(ctx: HookContext, session_id: str) -> list[int]:
    tenant = ctx.scoped_tenant
    found = set(ids_at_path(ctx.db, tenant, f"session/{session_id}"))
    found.update(ids_under(ctx.db, tenant, f"session/{session_id}/"))
    found.update(ids_under(ctx.db, tenant, f"coordination/{session_id}/"))
    return sorted(found)


def archive_scratch(ctx: HookContext, session_id: str) -> list[str]:
    """Archive the session's scratch memories in one transaction; their paths."""
    started = time.perf_counter()
    with ctx.db.write():
        ids = scratch_ids(ctx, session_id)
        if not ids:
            return []
        paths = [m.path for m in sql.get_many(ctx.db, ids).values()]
        count = sql.archive(ctx.db, ids, ARCHIVE_REASON, ctx.now)
        log.record(
            ctx.db,
            "archived",
            tenant=ctx.scoped_tenant,
            started_at=ctx.now,
            duration_ms=(time.perf_counter() - started) * 1000,
            count=count,
            details={"trigger": "hook session-end", "session_id": session_id},
        )
    return sorted(paths)


def summary_fields(ctx: HookContext) -> dict[str, Any]:
    """What Claude Code (or claude-flow's flags) told us about the session's end."""
    value: dict[str, Any] = {}
    for name in ("reason", "last_assistant_message", "cwd", "transcript_path"):
        text = ctx.input.text(name)
        if text:
            value[name] = clip(text)
    agent = ctx.input.agent_id
    if agent:
        value["agent_id"] = agent
    return value


def run(ctx: HookContext) -> dict[str, Any]:
    from memctl.lifecycle.session_summary import summarize, summary_value

    started = time.perf_counter()
    session_id = ctx.input.session_id
    result: dict[str, Any] = {"hook": "session-end", "session_id": session_id}
    # the summary is read from the task log and scratch before they go to the archive
    summary = (
        summary_value(
            ctx.db, ctx.now, ctx.scoped_tenant, session_id, "session-end", summary_fields(ctx)
        )
        if session_id
        else None
    )
    archived = archive_scratch(ctx, session_id) if session_id else []
    result["archived"] = len(archived)
    result["archived_paths"] = archived[:100]
    cleaned = clean_coordination(ctx)
    result["expired_coordination"] = cleaned["count"]
    result["cleanup"] = cleaned["via"]
    if session_id and summary is not None:
        summary["scratch_archived"] = len(archived)
        kept = summarize(
            ctx.db,
            ctx.policies,
            ctx.now,
            ctx.scoped_tenant,
            session_id,
            summary,
            ctx.input.agent_id,
        )
        result["summary"] = kept.path
        result["tasks"] = kept.tasks
    else:
        result["summary"] = None
        ctx.notes.append("no session id (stdin session_id or --session-id): nothing archived")
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result
