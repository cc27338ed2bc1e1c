"""Store, recall, list and delete: the decisions (conflicts, TTL, lazy expiry, access
boost) over ``memctl.store.memories``."""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from memctl import clock, limits
from memctl.errors import BadInput, NotFound, StorageError
from memctl.lifecycle import events
from memctl.lifecycle.expiry import expire_on_access, expires_at
from memctl.lifecycle.globs import check_glob, is_glob
from memctl.lifecycle.policies import Policies, Policy
from memctl.lifecycle.runs import logged_run
from memctl.lifecycle.values import (
    MAX_PATH_CHARS,
    check_text,
    is_number,
    serialize,
    stored_value,
)
from memctl.models import Memory, StoreResult
from memctl.store import memories as sql
from memctl.store import moves
from memctl.store.db import Database

_CONTROL = re.compile(r"[\x00-\x1f]")
DEFAULT_TYPE = "context"
DEFAULT_IMPORTANCE = 5.0
MAX_INSERT_RACES = 10  # a store that keeps losing the race to create its path gives up


@dataclass
class StoreRequest:
    tenant: str
    namespace: str
    key: str
    value: Any
    ttl_seconds: float | None = None  # None: the policy's
    importance: float | None = None
    type: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    agent_id: str | None = None
    session_id: str | None = None
    reward: float | None = None
    timestamp: float | None = None  # the write's time; None: now
    extra: dict[str, Any] = field(default_factory=dict)  # other fields of a new memory


def check_path_part(text: str, what: str) -> str:
    check_text(text, what)
    if not text:
        raise BadInput(f"{what} is empty")
    if len(text) > MAX_PATH_CHARS:
        raise BadInput(f"{what} is longer than {MAX_PATH_CHARS} characters")
    if _CONTROL.search(text):
        raise BadInput(f"{what} contains control characters")
    return text


def check_path(path: str) -> str:
    """A PATH as typed (``namespace/key``): a '/' at either end would leave a part empty,
    and quietly dropping it would address a different memory (``a/`` is not
    ``default/a``), so it is refused."""
    check_path_part(path, "path")
    if path.startswith("/"):
        raise BadInput(
            f"path {path!r} starts with '/': its namespace is empty (give namespace/key)"
        )
    if path.endswith("/"):
        raise BadInput(f"path {path!r} ends with '/': its key is empty (give namespace/key)")
    return path


def resolve_address(
    policies: Policies, path: str | None, namespace: str | None, key: str | None
) -> tuple[str, str]:
    """Namespace and key from a path, or from claude-flow's ``-n``/``-k``."""
    if path is not None and key is not None:
        raise BadInput("give either a PATH or -k/--key, not both")
    if path is not None:
        if namespace:  # `-n NAMESPACE KEY`: the argument is the key, as given
            return check_path_part(namespace, "namespace"), check_path_part(path, "key")
        namespace, key = policies.split_path(check_path(path))
        return check_path_part(namespace, "namespace"), check_path_part(key, "key")
    if key is None:
        raise BadInput("a PATH or -k/--key is required")
    return check_path_part(namespace or "default", "namespace"), check_path_part(key, "key")


def validate_request(req: StoreRequest) -> None:
    """The checks every write shares, whoever builds the request (CLI, hooks, import)."""
    limits.check_optional(req.importance, "importance", limits.IMPORTANCE)
    limits.check_optional(req.reward, "reward", limits.REWARD)
    limits.check_optional(req.ttl_seconds, "ttl", limits.DURATION)
    limits.check_optional(req.timestamp, "timestamp", limits.TIME)
    for tag in req.tags or []:
        check_text(tag, "tag")
    for text, what in ((req.type, "type"), (req.agent_id, "agent"), (req.session_id, "session")):
        if text is not None:
            check_text(text, what)


def check_request(policies: Policies, req: StoreRequest) -> Policy:
    """Every check a store makes before it touches the database (ranges, text, a
    counter's number, the value's JSON and size): callers that open the database only
    for a good request run it first (``api.operations.store``). The path's policy."""
    validate_request(req)
    policy = policies.for_path(f"{req.namespace}/{req.key}")
    if policy.conflict_strategy == "counter" and not is_number(req.value):
        raise BadInput(
            f"{req.namespace}/{req.key} is a counter (policy {policy.pattern}); "
            f"value {req.value!r} is not a number"
        )
    serialize(req.value)
    return policy


def store(
    db: Database, policies: Policies, now: float, req: StoreRequest, *, stored_event: bool = True
) -> StoreResult:
    """Write one memory, applying the path's conflict strategy (docs/policies.md);
    recorded as a ``memory:stored`` event unless ``stored_event`` is False (promote's
    copies: their batch is one ``memory:promoted`` event)."""
    policy = check_request(policies, req)
    written_at = now if req.timestamp is None else req.timestamp
    with db.write():
        for _ in range(MAX_INSERT_RACES):
            # locked: on PostgreSQL no other writer changes it before this one commits
            existing = sql.get(db, req.tenant, req.namespace, req.key, lock=True)
            if existing is not None and existing.is_expired(now):
                expire_on_access(db, existing, policies, now, "store")
                existing = None
            if existing is not None:
                result = _resolve(db, policy, req, existing, written_at)
            elif _insert(db, policy, req, written_at) is not None:
                result = StoreResult("created", _reload(db, req))
            else:
                # another writer created this path since it was read (PostgreSQL:
                # writers do not exclude each other): read it again and resolve with it
                continue
            if result.action == "created":
                limit = policies.alerts.max_memories_per_agent
                events.growth_on_store(db, now, req.tenant, result.memory.agent_id, limit)
            if stored_event and result.action != "ignored":  # an ignored write changed nothing
                memory = result.memory
                events.emit(
                    db,
                    events.STORED,
                    req.tenant,
                    now,
                    count=1,
                    ids=[memory.id],
                    path=memory.path,
                    action=result.action,
                )
            return result
    raise StorageError(
        f"{req.namespace}/{req.key}: other writers kept creating and removing it; "
        "nothing was stored, run it again"
    )


def new_row(
    policy: Policy, fields: dict[str, Any], compressed: bool | None = None
) -> tuple[dict[str, Any], str]:
    """A new memory's row, from its fields by ``Memory`` name as Python values (``tenant``,
    ``namespace``, ``key``, ``value`` and the times given; None or absent means the
    default): the value stored as ``stored_value`` says, defaults for the rest. Store and
    import build rows only here. Returns the row and the text to index."""
    row: dict[str, Any] = {
        "type": DEFAULT_TYPE,
        "importance": DEFAULT_IMPORTANCE,
        "tags": [],
        "metadata": {},
        "access_count": 0,
        "embedding_model": None,  # in the embedding backlog
    }
    row.update({name: v for name, v in fields.items() if v is not None or name not in row})
    columns, text = stored_value(policy, row["key"], row["value"], compressed)
    row.update(columns)
    return row, text


def _insert(db: Database, policy: Policy, req: StoreRequest, written_at: float) -> int | None:
    row, text = new_row(
        policy,
        {
            "tenant": req.tenant,
            "namespace": req.namespace,
            "key": req.key,
            "value": req.value,
            **_optional_fields(req),
            "created_at": written_at,
            "updated_at": written_at,
            "expires_at": expires_at(policy, req.ttl_seconds, written_at),
            **req.extra,
        },
    )
    return sql.insert(db, row, text)


# A write's optional fields (``StoreRequest`` and ``Memory`` share these names): None
# means "not given" (a new memory takes the default, an existing one keeps its value).
OPTIONAL_FIELDS = ("type", "agent_id", "session_id", "tags", "metadata", "importance", "reward")


def _optional_fields(req: StoreRequest) -> dict[str, Any]:
    return {name: getattr(req, name) for name in OPTIONAL_FIELDS}


def _given_fields(req: StoreRequest) -> dict[str, Any]:
    """Fields the write sets explicitly (absent ones keep the stored value)."""
    return {name: value for name, value in _optional_fields(req).items() if value is not None}


def _set_value(
    db: Database, policy: Policy, existing: Memory, value: Any, fields: dict[str, Any]
) -> None:
    columns, text = stored_value(policy, existing.key, value)
    if columns["content_hash"] == sql.content_hash_of(db, existing.id):
        sql.update(db, existing.id, {**columns, **fields}, None)  # same text: vector valid
    else:
        columns["embedding_model"] = None  # rejoins the embedding backlog
        sql.update(db, existing.id, {**columns, **fields}, text)


def _resolve(
    db: Database, policy: Policy, req: StoreRequest, existing: Memory, written_at: float
) -> StoreResult:
    strategy = policy.conflict_strategy
    fields = _given_fields(req)
    fields["expires_at"] = expires_at(policy, req.ttl_seconds, max(written_at, existing.updated_at))
    if strategy == "lww":
        if written_at < existing.updated_at:
            return StoreResult("ignored", existing, "an existing write is newer (lww)")
        fields["updated_at"] = written_at
        _set_value(db, policy, existing, req.value, fields)
        return StoreResult("updated", _reload(db, req))
    if strategy == "counter":
        if not is_number(existing.value):
            raise BadInput(f"{existing.path} holds {existing.value!r}, which is not a number")
        total = existing.value + req.value
        if not math.isfinite(total):
            raise BadInput(f"{existing.path}: {existing.value} + {req.value} overflows a number")
        fields["updated_at"] = max(written_at, existing.updated_at)
        _set_value(db, policy, existing, total, fields)
        return StoreResult("merged", _reload(db, req), f"{existing.value} + {req.value}")
    # multi_value: the newest write is primary, the others are kept as conflict values
    incoming = {"value": req.value, "timestamp": written_at, "agent_id": req.agent_id}
    current = {
        "value": existing.value,
        "timestamp": existing.updated_at,
        "agent_id": existing.agent_id,
    }
    if written_at >= existing.updated_at:
        if req.value == existing.value:
            fields["updated_at"] = written_at
            sql.update(db, existing.id, fields, None)
            return StoreResult("updated", _reload(db, req), "same value")
        others = [current, *existing.conflicts]
        primary = req.value
        fields["updated_at"] = written_at
    else:
        others = [*existing.conflicts, incoming]
        primary = existing.value
        # an older write only adds a conflict value: the primary keeps its own agent, tags...
        fields = {"expires_at": fields["expires_at"]}
    others.sort(key=lambda item: -float(item["timestamp"]))
    fields["conflicts"] = others
    if primary is req.value:
        _set_value(db, policy, existing, primary, fields)
    else:
        sql.update(db, existing.id, fields, None)
    return StoreResult("merged", _reload(db, req), f"{len(others)} conflicting value(s) kept")


def resolve_conflict(
    db: Database, policy: Policy, req: StoreRequest, existing: Memory, written_at: float
) -> StoreResult:
    """Apply the path's conflict strategy to a write onto an existing live memory (inside a
    write transaction): the one resolver shared by ``store`` and ``import --on-conflict
    merge``."""
    return _resolve(db, policy, req, existing, written_at)


def _reload(db: Database, req: StoreRequest) -> Memory:
    memory = sql.get(db, req.tenant, req.namespace, req.key)
    assert memory is not None
    return memory


def recall(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str,
    namespace: str,
    key: str,
    include_expired: bool = False,
) -> Memory:
    """One memory; lazy expiry applies; the access is recorded (count, time, boost).

    With the clock moved forward from now (``MEMCTL_NOW=+2h``) the recall is a look
    ahead: an expired memory is reported as expired but not moved, and no access is
    recorded, so a read writes nothing future-dated (docs/expiry.md)."""
    memory = sql.get(db, tenant, namespace, key)
    if memory is None:
        raise NotFound(f"{namespace}/{key}: no such memory")
    policy = policies.for_path(memory.path)
    what_if = clock.looking_ahead()
    if memory.is_expired(now) and not include_expired:
        if policy.cleanup_strategy == "lazy" and not what_if:
            with db.write():
                current = sql.get(db, tenant, namespace, key, lock=True)
                if current is not None and current.is_expired(now):
                    expire_on_access(db, current, policies, now, "recall")
        raise NotFound(f"{memory.path}: expired at {clock.iso(memory.expires_at)}")
    if what_if:
        return memory
    from memctl.lifecycle.decay import settle

    with db.write():  # decay accrued so far is applied before the access resets idleness
        settled = settle(db, policy, now, memory.id)
        sql.record_access(db, memory.id, now, policy.decay.access_boost)
    if settled is not None:
        memory.importance, memory.last_decay_at = settled, now
    memory.access_count += 1
    memory.accessed_at = now
    memory.importance = min(10.0, memory.importance + policy.decay.access_boost)
    return memory


def peek(db: Database, now: float, tenant: str, namespace: str, key: str) -> Memory | None:
    """One live memory, or None if absent or expired; unlike ``recall`` no access is
    recorded and nothing is expired (the hooks read their own notes this way)."""
    memory = sql.get(db, tenant, namespace, key)
    return None if memory is None or memory.is_expired(now) else memory


def select_targets(
    db: Database, policies: Policies, filters: sql.Filters, target: str
) -> list[Memory]:
    """Memories named by a path or a glob (on the whole path) for delete/archive."""
    if is_glob(target):
        problem = check_glob(target)
        if problem:
            raise BadInput(f"bad pattern {target!r}: {problem}")
        filters.pattern = target
        return sql.select(db, filters, sort="path")
    namespace, key = resolve_address(policies, target, None, None)
    memory = sql.get(db, filters.tenant or "", namespace, key)
    return [memory] if memory is not None and not memory.is_expired(filters.now) else []


def delete(
    db: Database, policies: Policies, now: float, tenant: str, memories: list[Memory], hard: bool
) -> int:
    """Archive (default) or purge the given memories; logged."""
    ids = [m.id for m in memories]
    action = "deleted" if hard else "archived"
    details = {"trigger": "delete", "hard": hard}
    with db.write(), logged_run(db, action, tenant=tenant, now=now, details=details) as run:
        if hard:
            events.emit_batch(db, events.DELETED, tenant, now, ids)
            run.count = moves.purge(db, ids)
        else:
            events.emit_batch(db, events.ARCHIVED, tenant, now, ids, reason="deleted")
            run.count = moves.archive(db, ids, "deleted", now)
    return run.count
