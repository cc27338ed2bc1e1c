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
    from memctl.lifecycle.sessions import archive_session

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
    archived = archive_session(ctx.db, ctx.now, ctx.scoped_tenant, session_id) if session_id else []
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
