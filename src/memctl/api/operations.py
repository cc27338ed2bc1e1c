"""One function per memory operation, for every transport (docs/api.md).

Each takes a resolved :class:`~memctl.api.context.Context` and plain Python arguments
(already typed: the command line parses its options, ``api.arguments`` checks a JSON
object), validates them with the rules every writer shares (``memctl.limits`` for
numbers and times, ``lifecycle.memories`` for paths, ``lifecycle.globs`` for
patterns), raises the named errors of ``memctl.errors``, and returns a result whose
``to_dict()`` is the ``--json`` document of the matching command:

| operation | command | result |
|---|---|---|
| ``store`` | ``store`` | ``StoreResult`` |
| ``recall`` | ``recall`` | ``Memory`` |
| ``list_memories`` | ``list`` | ``Listing`` |
| ``search`` | ``search`` | ``SearchResult`` |
| ``forget`` | ``delete`` (archive by default) | ``Forgotten`` |
| ``restore`` | ``restore`` | ``Restored`` |
| ``stats`` | ``stats`` | ``Stats`` |

Imports that only one operation needs (search, the archive, stats) are made inside it,
so ``store`` and ``recall`` start as fast as before (docs/budgets.md).
"""

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memctl import limits
from memctl.api.context import Context
from memctl.errors import BadInput, NotFound
from memctl.lifecycle import memories as lifecycle
from memctl.lifecycle.globs import check_glob
from memctl.lifecycle.values import check_text
from memctl.models import Forgotten, Listing, Memory, Restored, SearchResult, StoreResult
from memctl.store.memories import SORTS, Filters, count, select

if TYPE_CHECKING:
    from memctl.stats.figures import Stats


def store(
    ctx: Context,
    *,
    value: Any,
    path: str | None = None,
    namespace: str | None = None,
    key: str | None = None,
    ttl: float | None = None,
    importance: float | None = None,
    type: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    reward: float | None = None,
    timestamp: float | None = None,
) -> StoreResult:
    """Write one memory at ``path`` (or ``namespace`` + ``key``), applying the path's
    conflict strategy. ``ttl`` is in seconds (0: never expires; None: the policy's),
    ``timestamp`` the write's time in epoch seconds (None: now)."""
    policies = ctx.policies
    ns, k = lifecycle.resolve_address(policies, path, namespace, key)
    if metadata is not None and not isinstance(metadata, dict):
        raise BadInput("metadata must be a JSON object")
    request = lifecycle.StoreRequest(
        tenant=ctx.tenant,
        namespace=ns,
        key=k,
        value=value,
        ttl_seconds=ttl,
        importance=importance,
        type=type,
        tags=None if tags is None else list(tags),
        metadata=metadata,
        agent_id=agent_id,
        session_id=session_id,
        reward=reward,
        timestamp=timestamp,
    )
    lifecycle.check_request(policies, request)  # a bad request creates no database
    return lifecycle.store(ctx.database(create=True), policies, ctx.now(), request)


def recall(
    ctx: Context,
    *,
    path: str | None = None,
    namespace: str | None = None,
    key: str | None = None,
    include_expired: bool = False,
) -> Memory:
    """One memory (NotFound if absent or expired); records the access (count, time,
    importance boost), and lazy expiry applies (docs/expiry.md)."""
    policies = ctx.policies
    ns, k = lifecycle.resolve_address(policies, path, namespace, key)
    return lifecycle.recall(ctx.database(), policies, ctx.now(), ctx.tenant, ns, k, include_expired)


def filters(
    ctx: Context,
    *,
    pattern: str | None = None,
    namespace: str | None = None,
    agent_id: str | None = None,
    type: str | None = None,
    tags: Sequence[str] | None = None,
    archived: bool = False,
    expired: bool = False,
    include_expired: bool = False,
) -> Filters:
    """The query filters of ``list`` and ``search`` within the context's tenant scope;
    ``pattern`` and ``namespace`` may be globs (``*`` matches ``/`` too)."""
    for glob, what in ((pattern, "pattern"), (namespace, "namespace")):
        if glob is not None:
            problem = check_glob(check_text(glob, what))
            if problem:
                raise BadInput(f"bad pattern {glob!r}: {problem}")
    for text, what in ((agent_id, "agent"), (type, "type")):
        if text is not None:
            check_text(text, what)
    for tag in tags or ():
        check_text(tag, "tag")
    return Filters(
        tenant=ctx.scope,
        pattern=pattern,
        namespace=namespace,
        agent_id=agent_id,
        type=type,
        tags=list(tags or ()),
        now=ctx.now(),
        archived=archived,
        expired="only" if expired else "include" if include_expired else "exclude",
    )


def list_memories(
    ctx: Context,
    *,
    pattern: str | None = None,
    namespace: str | None = None,
    agent_id: str | None = None,
    type: str | None = None,
    tags: Sequence[str] | None = None,
    archived: bool = False,
    expired: bool = False,
    include_expired: bool = False,
    sort: str = "updated",
    limit: int = 100,
) -> Listing:
    """Memories matching a glob on the path and filters, sorted, at most ``limit``
    (0: all); ``total`` counts every match."""
    if sort not in SORTS:
        raise BadInput(f"sort must be one of {', '.join(SORTS)}")
    limits.check(limit, "limit", limits.COUNT)
    query = filters(
        ctx,
        pattern=pattern,
        namespace=namespace,
        agent_id=agent_id,
        type=type,
        tags=tags,
        archived=archived,
        expired=expired,
        include_expired=include_expired,
    )
    db = ctx.database()
    rows = select(db, query, sort=sort, limit=limit or None)
    total = count(db, query) if limit and len(rows) == limit else len(rows)
    return Listing(total, rows)


def search(
    ctx: Context,
    query: str,
    *,
    limit: int = 10,
    namespace: str | None = None,
    agent_id: str | None = None,
    type: str | None = None,
    tags: Sequence[str] | None = None,
    mode: str = "hybrid",
    min_score: float = 0.0,
    archived: bool = False,
    include_expired: bool = False,
) -> SearchResult:
    """Memories ranked for a natural-language query (docs/search.md): hybrid of vector
    similarity and keywords, or one of them (``mode``); hits scoring under ``min_score``
    (0-1) are dropped. The embedding model is loaded only here, and only when the mode
    needs it."""
    from memctl.search.ranking import MODES
    from memctl.search.ranking import search as rank

    check_text(query, "query")
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}")
    limits.check(limit, "limit", limits.RESULTS)
    limits.check(min_score, "min_score", limits.SCORE)
    query_filters = filters(
        ctx,
        namespace=namespace,
        agent_id=agent_id,
        type=type,
        tags=tags,
        archived=archived,
        include_expired=include_expired,
    )
    return rank(
        ctx.database(),
        query,
        query_filters,
        limit=limit,
        mode=mode,
        min_score=min_score,
        embedder=ctx.embedder,
    )


def forget(
    ctx: Context,
    *,
    path: str | None = None,
    namespace: str | None = None,
    key: str | None = None,
    hard: bool = False,
    dry_run: bool = False,
) -> Forgotten:
    """Archive (or with ``hard`` delete for good) the memory at a path, or every memory
    matching a glob on the path (NotFound if none); ``dry_run`` changes nothing and
    says what would go. Archived memories come back with :func:`restore`."""
    policies = ctx.policies
    if key is not None:
        ns, k = lifecycle.resolve_address(policies, None, namespace, key)
        path = f"{ns}/{k}"
    if path is None:
        raise BadInput("a path, a glob or a key is required")
    db = ctx.database()
    now = ctx.now()
    targets = lifecycle.select_targets(db, policies, Filters(tenant=ctx.tenant, now=now), path)
    if not targets:
        raise NotFound(f"{path}: no memory matches")
    done = (
        len(targets) if dry_run else lifecycle.delete(db, policies, now, ctx.tenant, targets, hard)
    )
    return Forgotten("deleted" if hard else "archived", dry_run, done, [m.path for m in targets])


def restore(ctx: Context, target: str, *, ttl: float | None = None) -> Restored:
    """Bring archived memories back to active: ``target`` is an archive id (digits), a
    path (its latest archived version) or a glob (docs/policies.md). The new expiry is
    the policy's TTL from now, or ``ttl`` seconds (0: never). NotFound if nothing
    archived matches; refused (BadInput) onto a path that has an active memory."""
    from memctl.lifecycle.archive import restore as bring_back

    started = time.perf_counter()
    check_text(target, "target")
    limits.check_optional(ttl, "ttl", limits.DURATION)
    restored = bring_back(ctx.database(), ctx.policies, ctx.now(), ctx.tenant, target, ttl)
    return Restored(restored, (time.perf_counter() - started) * 1000)


def runtime_model_id(model: str) -> str | None:
    """The id vectors are stored under for the policies' ``embedding.model`` (None when
    embeddings are off), without importing the embedding runtime."""
    if model == "none":
        return None
    from memctl.embeddings.model_files import model_id
    from memctl.store.columns import EMBEDDING_DIM

    return model_id(model, EMBEDDING_DIM)


def model_prepared(model: str) -> bool | None:
    """Whether the model's ONNX export is on this machine (None when embeddings are off)."""
    if model == "none":
        return None
    from memctl.embeddings.model_files import is_prepared

    return is_prepared(model)


def stats(ctx: Context) -> "Stats":
    """What the store holds and how it is kept: totals by state, namespace, agent and
    type, sizes, distributions, backlogs and recent lifecycle runs (docs/daemon.md)."""
    from memctl.stats.figures import collect_stats

    policies = ctx.policies
    return collect_stats(
        ctx.database(),
        ctx.now(),
        ctx.scope,
        ctx.db_path,
        policies.source,
        runtime_model_id(policies.embedding_model),
        model_prepared(policies.embedding_model),
    )
