"""``memctl hook pre-compact``: before Claude Code compacts a session's context, keep
what the session did so far as ``session-summaries/<id>`` (its tasks with their
outcomes, its scratch memories; ``lifecycle.session_summary``). Nothing is archived: the
session goes on, and session-end rewrites the summary at its end. The ``session-start``
hook that Claude Code runs after the compaction (source ``compact``) brings the summary
back as context.
"""

import time
from typing import Any

from memctl.hooks.context import HookContext, clip


def run(ctx: HookContext) -> dict[str, Any]:
    from memctl.lifecycle.session_summary import summarize, summary_value

    started = time.perf_counter()
    session_id = ctx.input.session_id
    result: dict[str, Any] = {"hook": "pre-compact", "session_id": session_id, "summary": None}
    if not session_id:
        ctx.notes.append("no session id (stdin session_id or --session-id): nothing kept")
        return result
    fields: dict[str, Any] = {}
    compaction = ctx.input.text("trigger")  # Claude Code: manual (/compact) or auto
    if compaction:
        fields["compaction"] = compaction
    for name in ("custom_instructions", "cwd", "transcript_path"):
        text = ctx.input.text(name)
        if text:
            fields[name] = clip(text)
    if ctx.input.agent_id:
        fields["agent_id"] = ctx.input.agent_id
    value = summary_value(ctx.db, ctx.now, ctx.scoped_tenant, session_id, "pre-compact", fields)
    kept = summarize(
        ctx.db, ctx.policies, ctx.now, ctx.scoped_tenant, session_id, value, ctx.input.agent_id
    )
    result.update(summary=kept.path, action=kept.action, tasks=kept.tasks)
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result
