"""What an agent session did, kept past its end: ``session-summaries/<id>``
(docs/hooks.md).

While a session runs, the hooks keep a scratch task log, ``session/<id>/tasks``: pre-task
adds each prompt (task id, text, start), post-task fills in its outcome (the episode's
path, output, reward) or adds a task it had not seen. The log is scratch, archived with
the rest of the session at its end; the summary, written by session-end and again
before each context compaction (Claude Code's PreCompact), is what stays: the session's
tasks with their outcomes, its scratch memories, and the event's own fields.

The log holds the last ``KEPT_TASKS`` to ``MAX_TASKS`` tasks with texts cut to
``MAX_TEXT`` characters, so it stays a few tens of KB however long the session.
"""

from dataclasses import dataclass
from typing import Any

import orjson

from memctl.clock import iso
from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import Policies
from memctl.models import Memory, StoreResult
from memctl.store import memories
from memctl.store.db import Database
from memctl.store.sessions import ids_under

SUMMARY_NAMESPACE = "session-summaries"
SESSION_NAMESPACE = "session"
TASKS = "tasks"  # session/<id>/tasks: the running task log
CURRENT_TASK = "current-task"  # session/<id>/current-task: pre-task's note for post-task
MAX_TASKS = 100
# Past MAX_TASKS the log drops its oldest tasks down to KEPT_TASKS at once, not one per
# prompt: its vector is made of its start (the model reads the first 256 tokens), so
# between two such drops it does not change, and a server takes it from memory
# (embeddings/onnx.REMEMBERED) instead of embedding 256 tokens again after every prompt
# (~100 ms of ONNX quiet, which back-to-back prompts waited for).
KEPT_TASKS = 75
MAX_TEXT = 500  # characters of a task's text or outcome in the log and the summary
MAX_PATHS = 50  # scratch paths listed in a summary


def _cut(value: Any, limit: int = MAX_TEXT) -> str:
    """A task's text or outcome (a string, or any JSON value as JSON text), cut."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _log(db: Database, tenant: str, session_id: str, now: float) -> list[dict[str, Any]]:
    # locked: the caller rewrites it in the same write transaction
    memory = memories.get(db, tenant, SESSION_NAMESPACE, f"{session_id}/{TASKS}", lock=True)
    if memory is None or memory.is_expired(now) or not isinstance(memory.value, dict):
        return []
    tasks = memory.value.get("tasks")
    return [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []


def _kept(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return tasks if len(tasks) <= MAX_TASKS else tasks[-KEPT_TASKS:]


def _write_log(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str,
    session_id: str,
    tasks: list[dict[str, Any]],
    agent_id: str | None,
) -> None:
    store(
        db,
        policies,
        now,
        StoreRequest(
            tenant=tenant,
            namespace=SESSION_NAMESPACE,
            key=f"{session_id}/{TASKS}",
            value={"session_id": session_id, "tasks": _kept(tasks)},
            type="context",
            agent_id=agent_id,
            session_id=session_id,
        ),
    )


def note_task_started(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str,
    session_id: str,
    task_id: str,
    task: str,
    agent_id: str | None = None,
) -> None:
    """Add a prompt (a task) to the session's task log."""
    with db.write():  # read and rewrite the log in one transaction
        tasks = [t for t in _log(db, tenant, session_id, now) if t.get("task_id") != task_id]
        tasks.append({"task_id": task_id, "task": _cut(task), "started_at": iso(now)})
        _write_log(db, policies, now, tenant, session_id, tasks, agent_id)


def note_task_outcome(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str,
    session_id: str,
    outcome: dict[str, Any],
    agent_id: str | None = None,
) -> None:
    """Record a task's outcome (``task_id``, ``task``, ``outcome``, ``reward``,
    ``episode``) in the session's task log: onto its task, or as a new one."""
    entry = {
        "task_id": outcome.get("task_id"),
        "task": _cut(outcome["task"]) if outcome.get("task") else None,
        "outcome": _cut(outcome["outcome"]) if outcome.get("outcome") is not None else None,
        "reward": outcome.get("reward"),
        "episode": outcome.get("episode"),
        "completed_at": iso(now),
    }
    with db.write():
        tasks = _log(db, tenant, session_id, now)
        for task in tasks:
            if task.get("task_id") == entry["task_id"]:
                task.update({k: v for k, v in entry.items() if v is not None or k == "reward"})
                break
        else:
            tasks.append(entry)
        _write_log(db, policies, now, tenant, session_id, tasks, agent_id)


def is_bookkeeping(memory: Memory) -> bool:
    """The hooks' own notes on a session (current task, task log): never context."""
    return memory.namespace == SESSION_NAMESPACE and memory.key.endswith(
        (f"/{TASKS}", f"/{CURRENT_TASK}")
    )


@dataclass
class SessionSummary:
    """What ``summarize`` kept, and where."""

    path: str
    action: str  # created | updated (the store's word)
    tasks: int
    completed: int


def summary_value(
    db: Database,
    now: float,
    tenant: str,
    session_id: str,
    trigger: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """The summary of a session from its task log and scratch memories, plus the event's
    ``fields`` (reason, cwd, last message, ...). Read before the scratch is archived."""
    tasks = _log(db, tenant, session_id, now)
    rewards = [t["reward"] for t in tasks if isinstance(t.get("reward"), (int, float))]
    scratch = sorted(
        m.path
        for m in memories.get_many(
            db,
            sorted(
                set(ids_under(db, tenant, f"{SESSION_NAMESPACE}/{session_id}/"))
                | set(ids_under(db, tenant, f"coordination/{session_id}/"))
            ),
        ).values()
        if not is_bookkeeping(m)
    )
    value: dict[str, Any] = {
        "session_id": session_id,
        "trigger": trigger,  # session-end, or pre-compact (the session goes on)
        "updated_at": iso(now),
        **fields,
        "tasks": tasks,
        "task_count": len(tasks),
        "completed": sum(1 for t in tasks if t.get("completed_at")),
        "mean_reward": round(sum(rewards) / len(rewards), 3) if rewards else None,
        "scratch": scratch[:MAX_PATHS],
        "scratch_count": len(scratch),
    }
    if trigger == "session-end":
        value["ended_at"] = iso(now)
    return value


def summarize(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str,
    session_id: str,
    value: dict[str, Any],
    agent_id: str | None = None,
) -> SessionSummary:
    """Store ``value`` (from ``summary_value``) as ``session-summaries/<id>``."""
    stored: StoreResult = store(
        db,
        policies,
        now,
        StoreRequest(
            tenant=tenant,
            namespace=SUMMARY_NAMESPACE,
            key=session_id,
            value=value,
            type="context",
            tags=["session-summary"],
            agent_id=agent_id,
            session_id=session_id,
        ),
    )
    return SessionSummary(
        path=stored.memory.path,
        action=stored.action,
        tasks=int(value.get("task_count", 0)),
        completed=int(value.get("completed", 0)),
    )


def latest_summary(db: Database, tenant: str, now: float) -> Memory | None:
    """The most recently written session summary of ``tenant``."""
    found = memories.select(
        db, memories.Filters(tenant=tenant, namespace=SUMMARY_NAMESPACE, now=now), limit=1
    )
    return found[0] if found else None


def session_summary(db: Database, tenant: str, session_id: str) -> Memory | None:
    return memories.get(db, tenant, SUMMARY_NAMESPACE, session_id)


def episodes_of(summary: Memory | None) -> set[str]:
    """The paths of the episodes a summary already tells of."""
    if summary is None or not isinstance(summary.value, dict):
        return set()
    tasks = summary.value.get("tasks")
    if not isinstance(tasks, list):
        return set()
    return {
        t["episode"] for t in tasks if isinstance(t, dict) and isinstance(t.get("episode"), str)
    }
