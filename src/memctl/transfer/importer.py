"""Import: validate every record first (``validate``), then write them all in ONE
transaction (``writer``).

Pass 1 reads the whole file and checks every record (types, paths, value size, tenants,
counter paths, vectors) without writing; any bad record stops the import with its
location unless ``skip_invalid``. Pass 2 reads the file again and writes in batches of
``BATCH`` inside a single ``BEGIN IMMEDIATE`` transaction, so a killed import leaves the
database as it was. Neither pass holds more than one batch in memory.

Conflicts with a live memory at the same path follow ``on_conflict``:
``skip`` keeps the existing memory, ``overwrite`` replaces it with the imported one, and
``merge`` replays the imported write (and, for ``multi_value`` paths, its conflict values)
through the same resolver as ``store`` at the record's ``updated_at``; a write already
present (same value and time; for a counter, its last update time) is not applied twice,
so merging the same file again changes nothing. An existing memory that has expired is
moved out first, as ``store`` does. An imported memory that has already expired is only
written where the path is free: it never replaces or merges into a memory. Archived
records go to the archive; one with the same path and ``archived_at`` as an archived
memory is a conflict (``overwrite`` replaces it, otherwise it is skipped).
"""

from dataclasses import dataclass, field
from typing import Any

from memctl.errors import BadInput
from memctl.lifecycle import events, graph
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.runs import logged_run
from memctl.progress import NoProgress, Progress
from memctl.store import transfer as sql
from memctl.store.columns import EMBEDDING_DIM
from memctl.store.db import Database
from memctl.transfer.records import Source
from memctl.transfer.validate import valid_records, validate
from memctl.transfer.writer import Writer

ON_CONFLICT = ("skip", "overwrite", "merge")


@dataclass
class ImportOptions:
    tenant: str = "default"
    all_tenants: bool = False  # keep each record's tenant
    on_conflict: str = "skip"
    skip_invalid: bool = False
    dry_run: bool = False
    # every record is this agent's (``POST /api/memory/import/{agentId}``): its agent_id
    # is set where absent, and a record of another agent is invalid
    agent_id: str | None = None


@dataclass
class ImportReport:
    file: str
    format: str
    on_conflict: str
    dry_run: bool
    read: int = 0
    created: int = 0
    archived: int = 0
    overwritten: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0
    skipped_expired: int = 0
    expired_on_arrival: int = 0
    replaced_expired: int = 0
    vectors_reused: int = 0
    backlog: int = 0
    graph_waiting: int = 0  # vectors outside the search graph after the import (PostgreSQL)
    invalid: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    invalid_records: list[dict[str, str]] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def written(self) -> int:
        return self.created + self.archived + self.overwritten + self.merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "on_conflict": self.on_conflict,
            "dry_run": self.dry_run,
            "read": self.read,
            "imported": self.written,
            "created": self.created,
            "archived": self.archived,
            "overwritten": self.overwritten,
            "merged": self.merged,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_expired": self.skipped_expired,
            "expired_on_arrival": self.expired_on_arrival,
            "replaced_expired": self.replaced_expired,
            "vectors_reused": self.vectors_reused,
            "embedding_backlog": self.backlog,
            "graph_waiting": self.graph_waiting,
            "invalid": self.invalid,
            "left_out": self.left_out,
            "invalid_records": self.invalid_records,
            "tenants": self.tenants,
            "duration_ms": round(self.duration_ms, 1),
        }


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""


def current_model(policies: Policies) -> str | None:
    """The model id vectors must carry to be reused (None: embeddings are off)."""
    if policies.embedding_model == "none":
        return None
    from memctl.embeddings.model_files import model_id

    return model_id(policies.embedding_model, EMBEDDING_DIM)


def import_source(
    db: Database,
    policies: Policies,
    now: float,
    source: Source,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate then write ``source``; raises ``BadInput`` (nothing written) on bad input."""
    if options.on_conflict not in ON_CONFLICT:
        raise BadInput(f"--on-conflict must be one of {', '.join(ON_CONFLICT)}")
    progress = progress or NoProgress()
    report = ImportReport(source.path, source.format, options.on_conflict, options.dry_run)
    tenant = None if options.all_tenants else options.tenant
    with logged_run(db, "imported", tenant=tenant, now=now, record=not options.dry_run) as run:
        valid = validate(source, policies, options, report, progress)
        writer = Writer(db, policies, now, options, report, current_model(policies))
        progress.start(valid, "importing")
        try:
            limit = policies.alerts.max_memories_per_agent
            with sql.import_cache(db), db.write():
                before = events.agents_over(db, tenant, limit)
                written = writer.run(valid_records(source, policies, options), progress)
                if written != valid:
                    raise BadInput(f"{source.path} changed during the import; nothing imported")
                details = {"format": source.format, "on_conflict": options.on_conflict}
                events.emit_owned(db, events.IMPORTED, now, writer.written, **details)
                events.growth_since(db, now, tenant, limit, before)
                report.left_out = dict(source.notes)
                if options.dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        if not options.dry_run:
            graph.graph_waiting(db, graph.AFTER_IMPORT)
            report.graph_waiting = graph.waiting(db)
        run.count = report.written
        run.details = {
            k: v
            for k, v in report.to_dict().items()
            if k not in ("invalid_records", "duration_ms", "dry_run")
        }
    report.duration_ms = run.duration_ms
    return report
