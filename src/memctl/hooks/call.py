"""Where one hook call works — its database, policies file, tenant and clock — resolved
from its input and the environment as every command resolves them (docs/addressing.md).

Light on purpose: the warm client (``memctl.warm``) resolves a call here, before
anything heavy is imported, to find the server's socket next to the database and hand
the resolved call over; the server then runs it exactly as this process would have.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memctl import clock
from memctl.hooks.input import HookInput
from memctl.paths import Location, find_policies_file, parse_location, resolve_project

HOOKS = (
    "session-start",
    "pre-task",
    "post-task",
    "pre-compact",
    "session-end",
    "memory-cleanup",
)


@dataclass(frozen=True)
class HookCall:
    """A resolved hook call. ``tenant`` is checked (``lifecycle.values.check_tenant``)
    when the call runs; ``all_tenants`` only for ``memory-cleanup --all-tenants``."""

    db_path: Location
    policies_path: Path
    tenant: str
    now: float
    all_tenants: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.db_path),
            "policies": str(self.policies_path),
            "tenant": self.tenant,
            "now": self.now,
            "all_tenants": self.all_tenants,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HookCall":
        return cls(
            parse_location(str(data["db"])),
            Path(str(data["policies"])),
            str(data["tenant"]),
            float(data["now"]),
            bool(data.get("all_tenants", False)),
        )


def text_flag(hook_input: HookInput, *names: str) -> str | None:
    value = hook_input.flag(*names)
    return value if isinstance(value, str) and value.strip() else None


def resolve_call(name: str, hook_input: HookInput) -> HookCall:
    """Database, policies and tenant as every command resolves them, starting from
    ``CLAUDE_PROJECT_DIR`` or the payload's ``cwd``; the clock read once (``MEMCTL_NOW``)."""
    project = resolve_project(text_flag(hook_input, "db"), start=hook_input.project_dir())
    policies_path = find_policies_file(text_flag(hook_input, "policies"), project.root)
    tenant = (
        text_flag(hook_input, "tenant")
        or os.environ.get("MEMCTL_TENANT")
        or project.tenant
        or "default"
    )
    all_tenants = hook_input.switch("all_tenants") and name == "memory-cleanup"
    return HookCall(project.db, policies_path, tenant, clock.now(), all_tenants)
