"""``memctl hook memory-cleanup``: one cleanup run (``--force`` includes ``manual``
namespaces, as for ``memctl cleanup``), for claude-flow's periodic maintenance hook."""

from typing import Any

from memctl.hooks.context import HookContext


def run(ctx: HookContext) -> dict[str, Any]:
    from memctl.lifecycle.expiry import cleanup

    force = ctx.input.switch("force")
    dry_run = ctx.input.switch("dry_run")
    report = cleanup(
        ctx.db,
        ctx.policies,
        ctx.now,
        ctx.tenant,
        namespace=ctx.input.text("namespace"),
        force=force,
        dry_run=dry_run,
    )
    return {
        "hook": "memory-cleanup",
        "count": report.count,
        "force": force,
        "dry_run": dry_run,
        "report": report.to_dict(),
    }
