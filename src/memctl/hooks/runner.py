"""Run one hook so that it never breaks the agent's session (docs/hooks.md).

Every failure (bad stdin, bad flags, a locked or corrupt database, a bug) becomes one
line on stderr and a lifecycle-log row with outcome ``error``, and the exit code is 0.
``--strict`` returns the error's exit code instead (2 bad input, 3 storage/internal);
note that Claude Code treats exit 2 as "block this event".

Options every hook reads from its arguments (claude-flow style; unknown ones ignored):
``--db``, ``--policies``, ``--tenant``, ``--strict``, ``-q/--quiet``, ``--json``,
``--format json|text|memctl`` (alias ``--output``), ``--no-stdin``, ``--debug``.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from memctl import clock
from memctl.errors import InternalError, MemctlError
from memctl.hooks.call import HOOKS as HOOKS  # re-exported
from memctl.hooks.call import HookCall, resolve_call, text_flag
from memctl.hooks.context import HookContext, log_error
from memctl.hooks.input import HookInput, parse_flags, read_payload
from memctl.lifecycle.values import check_tenant
from memctl.paths import resolve_db

FORMATS = ("json", "text", "memctl")


def build_context(
    name: str,
    hook_input: HookInput,
    call: HookCall | None = None,
    models: Callable[[str], Any] | None = None,
) -> HookContext:
    """The context of one hook call: ``call`` as resolved (``hooks.call``; here when
    not given), its tenant checked. ``models`` loads embedding models for a long-lived
    server (its loaded model is reused); None: this process loads its own."""
    if call is None:
        call = resolve_call(name, hook_input)
    check_tenant(call.tenant)
    return HookContext(
        name=name,
        input=hook_input,
        db_path=call.db_path,
        policies_path=call.policies_path,
        tenant=None if call.all_tenants else call.tenant,
        now=call.now,
        models=models,
    )


def output_format(hook_input: HookInput) -> str:
    fmt = (text_flag(hook_input, "format", "output") or "json").lower()
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
    """Run hook ``name`` with its raw arguments in this process; the exit code."""
    flags, _ = parse_flags(args)
    hook_input = HookInput({}, flags)
    if not hook_input.switch("no_stdin"):
        try:
            hook_input.payload = read_payload()
        except Exception as exc:
            return failed(name, hook_input, exc)
    return execute(name, hook_input)


def execute(
    name: str,
    hook_input: HookInput,
    call: HookCall | None = None,
    models: Callable[[str], Any] | None = None,
) -> int:
    """Run hook ``name`` on its parsed input (``call``: already resolved, as the warm
    path hands it to a server); the exit code. Output goes to ``hooks.output``'s
    streams: this process's stdout and stderr, or the server's buffers for the client."""
    ctx: HookContext | None = None
    try:
        ctx = build_context(name, hook_input, call, models)
        result = _handler(name)(ctx)
        render(name, ctx, result)
        return 0
    except Exception as exc:
        return failed(name, hook_input, exc, ctx, call)
    finally:
        if ctx is not None:
            ctx.close()


def failed(
    name: str,
    hook_input: HookInput,
    exc: Exception,
    ctx: HookContext | None = None,
    call: HookCall | None = None,
) -> int:
    """One stderr line and a lifecycle-log row (in the call's database when it was
    resolved); exit 0 unless ``--strict``."""
    if hook_input.switch("debug"):
        raise exc
    error = exc if isinstance(exc, MemctlError) else InternalError(f"internal error: {exc!r}")
    message = str(error)
    from memctl.hooks.output import error_line

    error_line(name, message)
    fallback = ctx if ctx is not None else _fallback_context(name, hook_input, call)
    if fallback is not None:
        try:
            log_error(fallback, message)
        finally:
            if fallback is not ctx:
                fallback.close()
    return error.exit_code if hook_input.switch("strict") else 0


def _fallback_context(
    name: str, hook_input: HookInput, call: HookCall | None
) -> HookContext | None:
    """A context good enough to log an error when building the real one failed."""
    if call is not None:
        db_path, now = call.db_path, call.now
    else:
        try:
            db_path = resolve_db(text_flag(hook_input, "db"), cwd=hook_input.project_dir())
        except Exception:
            return None
        now = _safe_now()
    return HookContext(
        name=name,
        input=hook_input,
        db_path=db_path,
        policies_path=Path(),
        tenant=None,
        now=now,
    )


def _safe_now() -> float:
    try:
        return clock.now()
    except MemctlError:
        import time

        return time.time()  # MEMCTL_NOW itself is malformed: log with the system time
