"""What each endpoint of ``memctl serve`` does (``endpoints.ENDPOINTS`` lists them): a
blocking function of one authenticated call, in a worker thread, that answers with the
matching command's ``--json`` document (or a file to stream). Arguments are checked
by the operations' own wire definitions (``api.arguments``) before anything is opened.
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from memctl.api import operations
from memctl.api.arguments import FORGET, LIST, RECALL, RESTORE, SEARCH, STORE
from memctl.errors import NotFound
from memctl.lifecycle.tokens import Token
from memctl.server.contexts import ServerContext

JOBS = ("cleanup", "decay", "prune", "promote", "compact")
METRICS_DAYS_DEFAULT = 30


@dataclass
class Call:
    """One authenticated call, as its endpoint's function sees it."""

    ctx: ServerContext
    token: Token
    params: dict[str, str]  # path parameters
    args: dict[str, Any]  # the query's arguments, typed (``wire.query_arguments``)
    body: Any = None  # the JSON body, or the path of an uploaded file


@dataclass
class Download:
    """A streamed answer: a file written by the operation, sent in chunks, then closed."""

    file: IO[bytes]
    media_type: str

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        try:
            self.file.seek(0)
            while chunk := self.file.read(size):
                yield chunk
        finally:
            self.file.close()


def store(call: Call) -> Any:
    return operations.store(call.ctx, **STORE.parse(call.body)).to_dict()


def recall(call: Call) -> Any:
    kwargs = RECALL.parse({"path": call.params["path"], **call.args})
    return operations.recall(call.ctx, **kwargs).to_dict()


def forget(call: Call) -> Any:
    kwargs = FORGET.parse({"path": call.params["path"], **call.args})
    return operations.forget(call.ctx, **kwargs).to_dict()


def list_memories(call: Call) -> Any:
    return operations.list_memories(call.ctx, **LIST.parse(call.args)).to_dict()


def search(call: Call) -> Any:
    kwargs = SEARCH.parse(call.args)
    return operations.search(call.ctx, kwargs.pop("query"), **kwargs).to_dict()


def archived(call: Call) -> Any:
    arguments = {**call.args, "archived": True, "agent_id": call.params["agent_id"]}
    return operations.list_memories(call.ctx, **LIST.parse(arguments)).to_dict()


def restore(call: Call) -> Any:
    """An archived memory of this agent (404 if it is another agent's or tenant's)."""
    from memctl.lifecycle.archive import find_archived

    memory_id = call.params["memory_id"]
    if not memory_id.isdigit():
        raise NotFound(f"{memory_id}: no archived memory has this id")
    kwargs = RESTORE.parse({"id": int(memory_id), **call.args})
    db = call.ctx.database()
    found = find_archived(db, call.ctx.tenant, memory_id)
    if found[0].agent_id != call.params["agent_id"]:
        raise NotFound(f"{memory_id}: nothing archived matches for agent {call.params['agent_id']}")
    return operations.restore(call.ctx, **kwargs).to_dict()


def metrics(call: Call) -> Any:
    """Today's figures (``stats --json``) and the daily snapshots (``stats --history``)."""
    from memctl.stats.snapshots import history

    ctx = call.ctx
    days = int(call.args.get("days", METRICS_DAYS_DEFAULT))
    today = operations.stats(ctx).to_dict()
    rows = history(ctx.database(), ctx.tenant, days, ctx.now())
    return {"stats": today, "days": days, "snapshots": [row.to_dict() for row in rows]}


def export(call: Call) -> Download:
    """The agent's memories as a memctl export (JSON Lines), written to a private
    temporary file (unlinked at once) and streamed from it."""
    from memctl.transfer.exporter import ExportOptions, export_stream
    from memctl.transfer.importer import current_model

    ctx = call.ctx
    options = ExportOptions(
        filters=operations.filters(
            ctx,
            agent_id=call.params["agent_id"],
            include_expired=bool(call.args.get("include_expired", False)),
        ),
        since=None,
        include_archived=bool(call.args.get("include_archived", True)),
        include_embeddings=bool(call.args.get("include_embeddings", False)),
        format="jsonl",
        model=current_model(ctx.policies),
    )
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Download once it is sent
    try:
        export_stream(ctx.database(), out, options, ctx.now())
    except BaseException:
        out.close()
        raise
    return Download(out, "application/x-ndjson")


def import_export(call: Call) -> Any:
    """A memctl export (the body, saved to a private temporary file): validated first,
    then written in one transaction, all or nothing, into the token's tenant; every
    record is the path's agent's (set where absent, refused where another)."""
    from memctl.transfer.detect import open_source
    from memctl.transfer.importer import ImportOptions, import_source

    ctx = call.ctx
    source = open_source(Path(call.body), "memctl")
    try:
        options = ImportOptions(
            tenant=ctx.tenant,
            on_conflict=str(call.args.get("on_conflict", "skip")),
            dry_run=bool(call.args.get("dry_run", False)),
            agent_id=call.params["agent_id"],
        )
        report = import_source(ctx.database(), ctx.policies, ctx.now(), source, options)
    finally:
        source.close()
    document = report.to_dict()
    document["file"] = "request body"
    return document


def prune(call: Call) -> Any:
    from memctl.lifecycle.prune import prune

    ctx = call.ctx
    dry_run = bool(call.args.get("dry_run", False))
    return prune(ctx.database(), ctx.policies, ctx.now(), ctx.tenant, dry_run=dry_run).to_dict()


def job(call: Call) -> Any:
    """One lifecycle job over the token's tenant (``compact``: over the database)."""
    from memctl.lifecycle.compact import compact
    from memctl.lifecycle.decay import decay
    from memctl.lifecycle.expiry import cleanup
    from memctl.lifecycle.promote import promote
    from memctl.lifecycle.prune import prune

    job = call.params["job"]
    if job not in JOBS:
        raise NotFound(f"no lifecycle job {job!r} (jobs: {', '.join(JOBS)})")
    ctx = call.ctx
    db, policies, now, tenant = ctx.database(), ctx.policies, ctx.now(), ctx.tenant
    dry_run = bool(call.args.get("dry_run", False))
    if job == "compact":
        return compact(db, now=now, dry_run=dry_run).to_dict()
    if job == "cleanup":
        return cleanup(db, policies, now, tenant, dry_run=dry_run).to_dict()
    if job == "decay":
        return decay(db, policies, now, tenant, dry_run=dry_run).to_dict()
    if job == "prune":
        return prune(db, policies, now, tenant, dry_run=dry_run).to_dict()
    return promote(db, policies, now, tenant, dry_run=dry_run).to_dict()
