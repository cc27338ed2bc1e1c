"""Run one hook so that it never breaks the agent's session (docs/hooks.md).

Every failure (bad stdin, bad flags, a locked or corrupt database, a bug) becomes one
line on stderr and a lifecycle-log row with outcome ``error``, and the exit code is 0.
``--strict`` returns the error's exit code instead (2 bad input, 3 storage/internal);
note that Claude Code treats exit 2 as "block this event".

Options every hook reads from its arguments (claude-flow style; unknown ones ignored):
``--db``, ``--policies``, ``--tenant``, ``--strict``, ``-q/--quiet``, ``--json``,
``--format json|text|memctl`` (alias ``--output``), ``--no-stdin``, ``--debug``.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memctl import clock
from memctl.errors import InternalError, MemctlError
from memctl.hooks.context import HookContext, log_error
from memctl.hooks.input import HookInput, parse_flags, read_payload
from memctl.lifecycle.policies import find_policies_file
from memctl.lifecycle.values import check_tenant
from memctl.paths import resolve_db, resolve_project

HOOKS = (
    "session-start",
    "pre-task",
    "post-task",
    "pre-compact",
    "session-end",
    "memory-cleanup",
)
FORMATS = ("json", "text", "memctl")


def _text_flag(hook_input: HookInput, *names: str) -> str | None:
    value = hook_input.flag(*names)
    return value if isinstance(value, str) and value.strip() else None


def build_context(name: str, hook_input: HookInput) -> HookContext:
    """Database, policies and tenant as every command resolves them (docs/addressing.md),
    starting from ``CLAUDE_PROJECT_DIR`` or the payload's ``cwd``."""
    project = resolve_project(_text_flag(hook_input, "db"), start=hook_input.project_dir())
    policies_path = find_policies_file(_text_flag(hook_input, "policies"), project.root)
    tenant = (
        _text_flag(hook_input, "tenant")
        or os.environ.get("MEMCTL_TENANT")
        or project.tenant
        or "default"
    )
    check_tenant(tenant)
    all_tenants = hook_input.switch("all_tenants") and name == "memory-cleanup"
    return HookContext(
        name=name,
        input=hook_input,
        db_path=project.db,
        policies_path=policies_path,
        tenant=None if all_tenants else tenant,
        now=clock.now(),
    )


def output_format(hook_input: HookInput) -> str:
    fmt = (_text_flag(hook_input, "format", "output") or "json").lower()
    if hook_input.switch("json"):
        return "memctl"
    return fmt if fmt in FORMATS else "json"


def _handler(name: str) -> Callable[[HookContext], Any]:
    if name == "session-end":
        from memctl.hooks import session_end

        return session_end.run
    if name == "pre-task":
        from memctl.hooks import pre_task

        return pre_task.run
    if name == "post-task":
        from memctl.hooks import post_task

        return post_task.run
    if name == "session-start":
        from memctl.hooks import session_start

        return session_start.run
    if name == "pre-compact":
        from memctl.hooks import pre_compact

        return pre_compact.run
    from memctl.hooks import memory_cleanup

    return memory_cleanup.run


def render(name: str, ctx: HookContext, result: Any) -> None:
    from memctl.hooks import output

    quiet = ctx.input.switch("quiet") or ctx.input.switch("q")
    fmt = output_format(ctx.input)
    if name == "pre-task":
        output.print_pre_task(result, fmt, ctx.input.text("hook_event_name"), quiet)
        return
    if name == "session-start":
        output.print_session_start(result, fmt, quiet)
        return
    if quiet:
        return
    if ctx.notes:
        result["notes"] = ctx.notes
    from_claude_code = "hook_event_name" in ctx.input.payload
    if name == "session-end" or not from_claude_code or fmt != "json":
        # Claude Code parses a Stop/PostToolUse hook's JSON stdout as hook output, so
        # post-task, pre-compact and memory-cleanup print their result there only when
        # asked.
        output.write_json(result)


def run_hook(name: str, args: list[str]) -> int:
    """Run hook ``name`` with its raw arguments; the process exit code."""
    flags, _ = parse_flags(args)
    hook_input = HookInput({}, flags)
    strict = hook_input.switch("strict")
    ctx: HookContext | None = None
    try:
        if not hook_input.switch("no_stdin"):
            hook_input.payload = read_payload()
        ctx = build_context(name, hook_input)
        result = _handler(name)(ctx)
        render(name, ctx, result)
        return 0
    except Exception as exc:
        if hook_input.switch("debug"):
            raise
        error = exc if isinstance(exc, MemctlError) else InternalError(f"internal error: {exc!r}")
        message = str(error)
        from memctl.hooks.output import error_line

        error_line(name, message)
        if ctx is None:
            ctx = _fallback_context(name, hook_input)
        if ctx is not None:
            log_error(ctx, message)
        return error.exit_code if strict else 0
    finally:
        if ctx is not None:
            ctx.close()


def _fallback_context(name: str, hook_input: HookInput) -> HookContext | None:
    """A context good enough to log an error when building the real one failed."""
    try:
        db_path = resolve_db(_text_flag(hook_input, "db"), cwd=hook_input.project_dir())
    except Exception:
        return None
    return HookContext(
        name=name,
        input=hook_input,
        db_path=db_path,
        policies_path=Path(),
        tenant=None,
        now=_safe_now(),
    )


def _safe_now() -> float:
    try:
        return clock.now()
    except MemctlError:
        import time

        return time.time()  # MEMCTL_NOW itself is malformed: log with the system time
