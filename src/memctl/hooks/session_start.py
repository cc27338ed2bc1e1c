"""``memctl hook session-start``: context for an agent session as it starts (Claude
Code's SessionStart: a new session, ``/resume``, ``/clear``, or right after a compaction).

What is given back, as ``hookSpecificOutput.additionalContext``:
- the session summary that applies: on ``resume`` and ``compact``, this session's own
  (written by pre-compact just before a compaction, so the tasks that were compacted
  away come back); otherwise the latest one of the project (what was done last);
- the memories relevant to that summary's recent tasks (or to ``--description``), found
  by exactly the rule pre-task uses (``pre_task.find_context``); summaries, and the
  episodes the summary already tells of, are not repeated among them.
Nothing is given when there is no summary and no description: there is nothing to be
relevant to yet.
"""

from dataclasses import dataclass
from typing import Any

from memctl.hooks.context import HookContext
from memctl.hooks.pre_task import PreTaskResult, find_context, limit_of
from memctl.models import Hit, Memory

OWN_SUMMARY_SOURCES = ("resume", "compact")
QUERY_TASKS = 5  # the summary's last tasks that make the query
MAX_QUERY_CHARS = 1000


@dataclass
class SessionStartResult:
    source: str | None
    session_id: str | None
    summary: Memory | None
    found: PreTaskResult


def summary_query(summary: Memory | None) -> str | None:
    """The text of the summary's last tasks: what the memories should be relevant to."""
    if summary is None or not isinstance(summary.value, dict):
        return None
    tasks = summary.value.get("tasks")
    if not isinstance(tasks, list):
        return None
    texts = [str(t["task"]) for t in tasks[-QUERY_TASKS:] if isinstance(t, dict) and t.get("task")]
    text = "\n".join(texts)[:MAX_QUERY_CHARS]
    return text or None


def run(ctx: HookContext) -> SessionStartResult:
    from memctl.lifecycle.session_summary import (
        SUMMARY_NAMESPACE,
        episodes_of,
        latest_summary,
        session_summary,
    )

    source = ctx.input.text("source")
    session_id = ctx.input.session_id
    tenant = ctx.scoped_tenant
    summary = None
    if session_id and source in OWN_SUMMARY_SOURCES:
        summary = session_summary(ctx.db, tenant, session_id)
    if summary is None:
        summary = latest_summary(ctx.db, tenant, ctx.now)
    query = ctx.input.text("description", "task", "query", "prompt") or summary_query(summary)

    told = episodes_of(summary)

    def already_told(hit: Hit) -> bool:
        """Summaries, and the summary's own episodes, are not repeated as hits."""
        return hit.memory.namespace == SUMMARY_NAMESPACE or hit.memory.path in told

    found = (
        find_context(ctx, query, limit_of(ctx), exclude=already_told)
        if query
        else PreTaskResult(query=None)
    )
    return SessionStartResult(source=source, session_id=session_id, summary=summary, found=found)


def summary_lines(summary: Memory) -> list[str]:
    """A summary as a few readable lines: when, and each task with its outcome."""
    value: Any = summary.value
    if not isinstance(value, dict):
        return []
    tasks = [t for t in value.get("tasks") or [] if isinstance(t, dict)]
    when = value.get("ended_at") or value.get("updated_at") or ""
    state = "ended" if value.get("ended_at") else "summarised before a compaction"
    head = (
        f"Session {value.get('session_id', summary.key)} ({state} {when}): "
        f"{len(tasks)} task(s), {value.get('completed', 0)} with an outcome."
    )
    lines = [head]
    for task in tasks:
        line = f"- {task.get('task') or task.get('task_id')}"
        if task.get("outcome"):
            line += f"\n  outcome: {task['outcome']}"
        if task.get("reward") is not None:
            line += f" (reward {task['reward']})"
        lines.append(line)
    return lines
