"""The HTTP API of ``memctl serve`` as one table (docs/serve.md): each endpoint's method,
path, access, query parameters and body — fields of ``api.arguments``, so the checks
and the OpenAPI schema come from the definitions the command line and the MCP tools
use — and the blocking function that answers it with the matching command's ``--json``
document.

Access: ``public`` needs no token; ``read`` any token; ``write`` a read-write token,
except with ``?dry_run=true`` (a dry run changes nothing, so it is a read).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memctl import limits
from memctl.api.arguments import FORGET, LIST, RECALL, RESTORE, SEARCH, STORE, Field, Operation
from memctl.server import calls
from memctl.server.calls import Call

DRY_RUN = Field("dry_run", "boolean", "Report what would happen; change nothing.", default=False)
METRICS_DAYS = Field(
    "days",
    "integer",
    "Days of daily snapshots to include, up to today.",
    allowed=limits.Range(1, 3660, "whole numbers 1 to 3660", whole=True),
    default=30,
)
INCLUDE_ARCHIVED = Field(
    "include_archived", "boolean", "Archived memories too (FR-7: all of them).", default=True
)
INCLUDE_EXPIRED = Field(
    "include_expired", "boolean", "Expired memories not yet cleaned up too.", default=False
)
INCLUDE_EMBEDDINGS = Field(
    "include_embeddings", "boolean", "Vectors too (base64 float32).", default=False
)
ON_CONFLICT = Field(
    "on_conflict",
    "string",
    "When a path exists: skip it, overwrite it, or merge (the path's conflict strategy).",
    choices=("skip", "overwrite", "merge"),
    default="skip",
)
SINCE = Field(
    "since",
    "integer",
    "Events after this id (0: from the oldest kept); a Last-Event-ID header wins.",
    allowed=limits.COUNT,
    default=0,
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as routed (``{path:path}`` takes slashes)
    name: str  # operationId
    summary: str
    access: str  # public | read | write
    query: tuple[Field, ...] = ()
    wire: dict[str, str] = field(default_factory=dict)  # field -> query name
    operation: Operation | None = None  # the body's arguments (``body == "json"``)
    body: str | None = None  # None | json | ndjson
    run: Callable[[Call], Any] | None = None  # blocking; None: served by the app itself
    path_params: tuple[tuple[str, str], ...] = ()  # (name, description)
    answers: str = "the command's --json document"
    media_type: str = "application/json"
    created: bool = False  # 201 when the document's action is "created"

    def is_write(self, dry_run: bool) -> bool:
        return self.access == "write" and not dry_run


def _fields(operation: Operation, *hidden: str) -> tuple[Field, ...]:
    return tuple(f for f in operation.fields if f.name not in hidden)


# ---------------------------------------------------------------- the table

_PATH = ("path", "The memory's path, namespace/key (a glob such as scratch/* for DELETE).")
_AGENT = ("agent_id", "The agent (the memories' agent_id) within the token's tenant.")
LIST_QUERY = _fields(LIST)
SEARCH_QUERY = _fields(SEARCH)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/api/memories",
        "store",
        "Store a memory (the path's conflict strategy applies).",
        "write",
        operation=STORE,
        body="json",
        run=calls.store,
        answers="store --json: action, path, id, value, conflicts, expires_at, ...",
        created=True,
    ),
    Endpoint(
        "GET",
        "/api/memories",
        "list",
        "List memories by glob and filters, sorted (list).",
        "read",
        query=LIST_QUERY,
        run=calls.list_memories,
        answers="list --json: total, count, memories",
    ),
    Endpoint(
        "GET",
        "/api/memories/{path:path}",
        "recall",
        "Recall one memory by path (records the access, as recall does).",
        "read",
        query=_fields(RECALL, "path", "namespace", "key"),
        path_params=(_PATH,),
        run=calls.recall,
        answers="recall --json: every field of the memory",
    ),
    Endpoint(
        "DELETE",
        "/api/memories/{path:path}",
        "forget",
        "Archive a memory, or every match of a glob (hard=true deletes for good).",
        "write",
        query=_fields(FORGET, "path", "namespace", "key"),
        path_params=(_PATH,),
        run=calls.forget,
        answers="delete --json: action, dry_run, count, paths",
    ),
    Endpoint(
        "GET",
        "/api/search",
        "search",
        "Memories ranked for a question (hybrid of meaning and keywords).",
        "read",
        query=SEARCH_QUERY,
        wire={"query": "q"},
        run=calls.search,
        answers="search --json: query, mode, model, pending_embeddings, hits",
    ),
    Endpoint(
        "GET",
        "/api/memory/{agent_id}/archived",
        "archived",
        "The agent's archived memories (seed 004 FR-8).",
        "read",
        query=_fields(LIST, "archived", "agent_id"),
        path_params=(_AGENT,),
        run=calls.archived,
        answers="list --archived --json: total, count, memories",
    ),
    Endpoint(
        "POST",
        "/api/memory/{agent_id}/restore/{memory_id}",
        "restore",
        "Bring one of the agent's archived memories back by its id (seed 004 FR-8).",
        "write",
        query=_fields(RESTORE, "id", "path"),
        path_params=(_AGENT, ("memory_id", "The archived memory's id.")),
        run=calls.restore,
        answers="restore --json: count, duration_ms, memories",
    ),
    Endpoint(
        "GET",
        "/api/memory/metrics",
        "metrics",
        "Today's figures and the daily snapshots of the token's tenant (seed 004 FR-5).",
        "read",
        query=(METRICS_DAYS,),
        run=calls.metrics,
        answers="stats: stats --json; snapshots: stats --history --json rows",
    ),
    Endpoint(
        "POST",
        "/api/memory/export/{agent_id}",
        "export",
        "The agent's memories as a memctl export, JSON Lines (seed 004 FR-7, FR-8).",
        "read",
        query=(INCLUDE_ARCHIVED, INCLUDE_EXPIRED, INCLUDE_EMBEDDINGS),
        path_params=(_AGENT,),
        run=calls.export,
        answers="a memctl export: a header line, then one memory per line",
        media_type="application/x-ndjson",
    ),
    Endpoint(
        "POST",
        "/api/memory/import/{agent_id}",
        "import",
        "Import a memctl export into the agent's memories: validated, all or nothing.",
        "write",
        query=(ON_CONFLICT, DRY_RUN),
        body="ndjson",
        path_params=(_AGENT,),
        run=calls.import_export,
        answers="import --json: read, imported, created, skipped, ...",
    ),
    Endpoint(
        "POST",
        "/api/memory/prune",
        "prune",
        "Run the prune rules over the token's tenant (seed 004 FR-8).",
        "write",
        query=(DRY_RUN,),
        run=calls.prune,
        answers="prune --json: purged, archived, kept_important, by_namespace, ...",
    ),
    Endpoint(
        "POST",
        "/api/lifecycle/{job}",
        "lifecycle",
        "Run a lifecycle job now over the token's tenant (compact: the whole database).",
        "write",
        query=(DRY_RUN,),
        path_params=(("job", "cleanup, decay, prune, promote or compact."),),
        run=calls.job,
        answers="the job command's --json report",
    ),
    Endpoint(
        "GET",
        "/api/events",
        "events",
        "Lifecycle events after an id, as Server-Sent Events (resumable by id).",
        "read",
        query=(SINCE,),
        answers="text/event-stream: id (the event id), event (its name), data (JSON)",
        media_type="text/event-stream",
    ),
    Endpoint(
        "GET",
        "/healthz",
        "health",
        "Whether the server is up (no token needed).",
        "public",
        answers="status, version",
    ),
)
