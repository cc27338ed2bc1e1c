"""``memctl hook post-task``: store the task's outcome as an episode (federation seed):
``episodes/<task-id>`` with type ``episode``, the task, its input and output, a reward
(0-1, which pruning's ``min_reward`` rule reads), the agent and the session.

Where each part comes from (a flag wins over stdin):
- task id: ``--task-id``, else the tool call's ``tool_use_id``, else the task pre-task
  recorded for this session, else ``<session>-<epoch ms>``;
- task: ``--description``/``--task``, else ``prompt``, else pre-task's current task,
  else the tool call (``Bash: Run the auth tests``);
- input: ``--input``, else ``tool_input``; output: ``--output-text``/``--result``, else
  ``last_assistant_message``, else ``tool_response``;
- reward: ``--reward``, else ``--success true|false`` / ``--status completed|failed`` /
  ``tool_response.success`` as 1.0 or 0.0, else none.

With a session, the outcome also goes into the session's task log (the session summary
lists each task with its outcome; ``lifecycle.session_summary``).
"""

from typing import Any

from memctl import limits
from memctl.clock import iso
from memctl.errors import BadInput
from memctl.hooks.context import HookContext, clip, clip_value, current_task

EPISODE_NAMESPACE = "episodes"
_GOOD = {"completed", "complete", "success", "succeeded", "ok", "done", "passed", "pass"}
_BAD = {"failed", "failure", "error", "errored", "fail", "cancelled", "aborted"}


def reward_of(ctx: HookContext) -> float | None:
    raw = ctx.input.flag("reward", "score")
    if raw is not None and not isinstance(raw, bool):
        try:
            reward = float(raw)
        except ValueError:
            raise BadInput(f"--reward {raw!r} is not a number between 0 and 1") from None
        return float(limits.check(reward, "--reward", limits.REWARD, repr(raw)))
    success = ctx.input.flag("success")
    if isinstance(success, bool):
        return 1.0 if success else 0.0
    status = ctx.input.text("status")
    if status and status.lower() in _GOOD:
        return 1.0
    if status and status.lower() in _BAD:
        return 0.0
    response = ctx.input.payload.get("tool_response")
    if isinstance(response, dict) and isinstance(response.get("success"), bool):
        return 1.0 if response["success"] else 0.0
    return None


def tool_summary(ctx: HookContext) -> str | None:
    tool = ctx.input.text("tool_name")
    if not tool:
        return None
    params = ctx.input.tool_input
    for name in ("description", "command", "file_path", "pattern", "url", "prompt"):
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return f"{tool}: {value}"
    return tool


def run(ctx: HookContext) -> dict[str, Any]:
    from memctl.lifecycle.memories import StoreRequest, store

    session_id = ctx.input.session_id
    pending = current_task(ctx, session_id) if session_id else None
    task_id = (
        ctx.input.text("task_id", "tool_use_id")
        or (pending or {}).get("task_id")
        or f"{session_id or 'task'}-{int(ctx.now * 1000)}"
    )
    description = (
        ctx.input.text("description", "task", "prompt")
        or (pending or {}).get("description")
        or tool_summary(ctx)
    )
    value: dict[str, Any] = {"task_id": task_id, "completed_at": iso(ctx.now)}
    if description:
        value["task"] = clip(str(description))
    task_input = ctx.input.flag("input")
    if isinstance(task_input, str):
        value["input"] = clip(task_input)
    elif ctx.input.tool_input:
        value["input"] = clip_value(ctx.input.tool_input)
    output = ctx.input.text("output_text", "result", "last_assistant_message")
    if output:
        value["output"] = clip(output)
    elif "tool_response" in ctx.input.payload:
        value["output"] = clip_value(ctx.input.payload["tool_response"])
    reward = reward_of(ctx)
    value["reward"] = reward
    for name in ("tool_name", "hook_event_name", "status"):
        text = ctx.input.text(name)
        if text:
            value[name] = text
    importance = ctx.input.flag("importance")
    stored = store(
        ctx.db,
        ctx.policies,
        ctx.now,
        StoreRequest(
            tenant=ctx.scoped_tenant,
            namespace=EPISODE_NAMESPACE,
            key=str(task_id),
            value=value,
            type="episode",
            tags=["episode"],
            agent_id=ctx.input.agent_id,
            session_id=session_id,
            reward=reward,
            importance=_number(importance, "--importance"),
        ),
    )
    if session_id:
        from memctl.lifecycle.session_summary import note_task_outcome

        note_task_outcome(
            ctx.db,
            ctx.policies,
            ctx.now,
            ctx.scoped_tenant,
            session_id,
            {
                "task_id": str(task_id),
                "task": value.get("task"),
                "outcome": value.get("output"),
                "reward": reward,
                "episode": stored.memory.path,
            },
            ctx.input.agent_id,
        )
    return {
        "hook": "post-task",
        "action": stored.action,
        "path": stored.memory.path,
        "task_id": task_id,
        "reward": reward,
        "session_id": session_id,
    }


def _number(raw: Any, what: str) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadInput(f"{what} {raw!r} is not a number") from None
