"""``memctl hook memory-cleanup``: one cleanup run (``--force`` includes ``manual``
namespaces, as for ``memctl cleanup``), for claude-flow's periodic maintenance hook."""

from typing import Any

from memctl.hooks.context import HookContext, cleanup_function
from memctl.store.memories import Filters


def run(ctx: HookContext) -> dict[str, Any]:
    force = ctx.input.switch("force")
    dry_run = ctx.input.switch("dry_run")
    namespace = ctx.input.text("namespace")
    cleanup = cleanup_function()
    if cleanup is not None:
        report = cleanup(
            ctx.db,
            ctx.policies,
            ctx.now,
            ctx.tenant,
            namespace=namespace,
            force=force,
            dry_run=dry_run,
        )
        details = report.to_dict() if hasattr(report, "to_dict") else {}
        return {
            "hook": "memory-cleanup",
            "count": int(report.count),
            "force": force,
            "dry_run": dry_run,
            "report": details,
        }
    return {
        "hook": "memory-cleanup",
        "count": _fallback(ctx, namespace, force, dry_run),
        "force": force,
        "dry_run": dry_run,
        "report": {"via": "fallback"},
    }


def _fallback(ctx: HookContext, namespace: str | None, force: bool, dry_run: bool) -> int:
    """Expire what is due when ``lifecycle.cleanup`` is not available."""
    from memctl.lifecycle.memories import expire
    from memctl.store.memories import select

    filters = Filters(tenant=ctx.tenant, namespace=namespace, expired="only", now=ctx.now)
    with ctx.db.write():
        found = select(ctx.db, filters, sort="path")
        due = [
            m for m in found if force or ctx.policies.for_path(m.path).cleanup_strategy != "manual"
        ]
        if dry_run or not due:
            return len(due)
        return expire(ctx.db, due, ctx.policies, ctx.now)
