"""Everything one hook call works with: its input, database, policies, tenant and clock,
plus the steps several hooks share (coordination cleanup, the session's current task).
Hooks change memories only through ``lifecycle`` (as commands do)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memctl.hooks.input import HookInput
from memctl.hooks.streams import stderr
from memctl.lifecycle.policies import Policies, load_policies
from memctl.lifecycle.session_summary import CURRENT_TASK  # session/<id>/current-task
from memctl.paths import Location
from memctl.store import Database, open_database

COORDINATION_GLOB = "coordination*"
MAX_TEXT_CHARS = 16_000  # longer messages and tool output are cut (values stay small)


@dataclass
class HookContext:
    """One hook call. ``tenant`` is None only for ``memory-cleanup --all-tenants``."""

    name: str
    input: HookInput
    db_path: Location
    policies_path: Path
    tenant: str | None
    now: float
    notes: list[str] = field(default_factory=list)
    # loads an embedding model by name: a server's, kept loaded between calls (None:
    # this process loads its own, ``hooks.pre_task.hook_embedder``)
    models: Callable[[str], Any] | None = None
    _db: Database | None = None
    _policies: Policies | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.db_path, create=True, notify=self._schema_upgraded)
        return self._db

    def _schema_upgraded(self, line: str) -> None:
        """One line, once, from the hook that upgraded the database: in the hook's
        result and on stderr (where Claude Code keeps hook diagnostics)."""
        self.notes.append(line)
        stderr().write(line + "\n")

    @property
    def policies(self) -> Policies:
        if self._policies is None:
            self._policies = load_policies(self.policies_path)
        return self._policies

    @property
    def scoped_tenant(self) -> str:
        """The tenant for hooks that write (they always have one)."""
        return self.tenant or "default"

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_value(value: Any, limit: int = MAX_TEXT_CHARS) -> Any:
    """A JSON value kept as is when small, else its JSON text cut to ``limit``."""
    if isinstance(value, str):
        return clip(value, limit)
    import orjson

    text = orjson.dumps(value).decode()
    return value if len(text) <= limit else clip(text, limit)


def clean_coordination(ctx: HookContext) -> dict[str, Any]:
    """Lazy cleanup of expired coordination data (``coordination*`` namespaces)."""
    from memctl.lifecycle.expiry import cleanup_due

    report = cleanup_due(ctx.db, ctx.policies, ctx.now, ctx.tenant, COORDINATION_GLOB)
    if report is None:
        return {"count": 0, "via": "none due"}
    return {"count": report.count, "via": "cleanup"}


def current_task(ctx: HookContext, session_id: str) -> dict[str, Any] | None:
    """What pre-task recorded as this session's current task, if anything."""
    from memctl.lifecycle.memories import peek

    memory = peek(ctx.db, ctx.now, ctx.scoped_tenant, "session", f"{session_id}/{CURRENT_TASK}")
    if memory is None or not isinstance(memory.value, dict):
        return None
    return memory.value


def log_error(ctx: HookContext, message: str) -> None:
    """Record a hook failure in the lifecycle log (best effort: the database may be the
    thing that failed)."""
    from memctl.lifecycle.runs import record_error

    try:
        db = ctx.db
    except Exception:
        return
    details = {"hook": ctx.name, "event": ctx.input.event, "session_id": ctx.input.session_id}
    record_error(db, "hook", tenant=ctx.tenant, now=ctx.now, error=message, details=details)
