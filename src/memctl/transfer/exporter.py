"""Export: stream memories as memctl JSON Lines / JSON, or snapshot the whole database.

A stream export runs in one read transaction, so its header counts and its lines come
from the same snapshot while other processes keep writing; rows are read
``store.transfer.EXPORT_BATCH`` at a time, so memory use does not grow with the database.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from memctl import __version__
from memctl.clock import iso
from memctl.errors import BadInput
from memctl.progress import NoProgress, Progress
from memctl.store import transfer as sql
from memctl.store.columns import EMBEDDING_DIM
from memctl.store.db import Database
from memctl.store.memories import Filters
from memctl.transfer import memctl_format as fmt
from memctl.transfer.files import check_target, create_private, publish, temp_sibling
from memctl.transfer.records import iso_us

FORMATS = ("jsonl", "json", "sqlite")


@dataclass
class ExportOptions:
    filters: Filters  # tenant, namespace, agent, type, expired handling, now
    since: float | None = None
    include_archived: bool = False
    include_embeddings: bool = False
    format: str = "jsonl"
    model: str | None = None  # the current embedding model id, for the header


@dataclass
class ExportSummary:
    format: str
    path: str | None  # None: stdout
    counts: dict[str, int] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": self.path,
            "counts": self.counts,
            "tenants": self.tenants,
        }


def export_stream(
    db: Database,
    out: IO[bytes],
    options: ExportOptions,
    now: float,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the header and every matching memory (active, then archived) to ``out``."""
    if options.format not in ("jsonl", "json"):
        raise BadInput(f"--format must be one of {', '.join(FORMATS)}")
    progress = progress or NoProgress()
    active = replace(options.filters, archived=False)
    archived = replace(options.filters, archived=True)
    with db.read():
        counts = {"memories": sql.count_rows(db, active, options.since), "archived": 0}
        if options.include_archived:
            counts["archived"] = sql.count_rows(db, archived, options.since)
        counts["total"] = counts["memories"] + counts["archived"]
        if options.filters.tenant is not None:
            tenants = [options.filters.tenant]
        else:
            found = sql.tenants(db, active, options.since)
            if options.include_archived:
                found |= sql.tenants(db, archived, options.since)
            tenants = sorted(found)
        header = _header(options, now, counts, tenants)
        progress.start(counts["total"], "exporting")

        def rows() -> Iterator[dict[str, Any]]:
            parts = [active, archived] if options.include_archived else [active]
            for filters in parts:
                for memory, vector in sql.iter_rows(
                    db, filters, options.since, options.include_embeddings
                ):
                    yield fmt.record_dict(memory, vector)
                    progress.advance(1)

        write = fmt.write_jsonl if options.format == "jsonl" else fmt.write_json
        written = write(out, header, rows())
    assert written == counts["total"]
    return ExportSummary(options.format, None, counts, tenants)


def _header(
    options: ExportOptions, now: float, counts: dict[str, int], tenants: list[str]
) -> dict[str, Any]:
    filters = options.filters
    return {
        "format": fmt.FORMAT,
        "version": fmt.VERSION,
        "exported_at": iso(now),
        "memctl_version": __version__,
        "tenants": tenants,
        "all_tenants": filters.tenant is None,
        "embedding": {
            "model": options.model,
            "dimension": EMBEDDING_DIM,
            "included": options.include_embeddings,
        },
        "counts": counts,
        "filters": {
            "namespace": filters.namespace,
            "agent": filters.agent_id,
            "type": filters.type,
            "since": iso_us(options.since),
            "include_archived": options.include_archived,
            "include_expired": filters.expired == "include",
        },
    }


def export_snapshot(db: Database, target: Path, tenant: str | None) -> ExportSummary:
    """A consistent online copy of the whole database (``VACUUM INTO``) at ``target``,
    mode 0600, renamed into place. With a ``tenant``, the copy is refused (and removed) if
    it holds any other tenant's memories: the tenant boundary holds for snapshots too."""
    check_target(target)
    temp = temp_sibling(target)
    os.close(create_private(temp))
    try:
        sql.snapshot(db, temp)
        tenants = sql.snapshot_tenants(temp)
        if tenant is not None and tenants - {tenant}:
            raise BadInput(
                "the database holds other tenants' memories and a sqlite snapshot copies "
                "the whole database: add --all-tenants"
            )
        counts = sql.snapshot_counts(temp)
        publish(temp, target)
    except BaseException:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    counts["total"] = counts["memories"] + counts["archived"]
    return ExportSummary("sqlite", str(target), counts, sorted(tenants))
