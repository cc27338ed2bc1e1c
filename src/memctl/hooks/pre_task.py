"""``memctl hook pre-task``: clean stale coordination data, then recall the memories most
relevant to the task, as context for the agent.

The query is ``--description`` (or ``--task``/``--query``), else Claude Code's ``prompt``,
else the tool call's description or command. Search is hybrid when the embedding model is
already prepared on this machine (cold ONNX load ~0.35 s); otherwise keyword-only, so a
hook never waits for a model export. Only a small part of the embedding backlog is filled
here (the daemon and ``memctl reindex`` do the rest); pending memories are still found
by keyword.

When the session is known, the task is remembered as ``session/<id>/current-task`` so that
``post-task`` on Claude Code's Stop event can pair the outcome with its prompt, and added
to the session's task log ``session/<id>/tasks`` that the session summary is made from
(``lifecycle.session_summary``); both are scratch, archived at session end.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memctl.clock import iso
from memctl.hooks.context import HookContext, clean_coordination, clip
from memctl.lifecycle.session_summary import CURRENT_TASK
from memctl.models import Hit

BACKLOG_LIMIT = 8  # memories embedded per call at most: the daemon embeds the rest
MAX_LIMIT = 50


@dataclass
class PreTaskResult:
    query: str | None
    hits: list[Hit] = field(default_factory=list)
    mode: str = "keyword"
    pending_embeddings: int = 0
    expired_coordination: int = 0
    task_id: str | None = None
    fallback: str | None = None  # why the search was keyword-only when hybrid was asked


def task_query(ctx: HookContext) -> str | None:
    text = ctx.input.text("description", "task", "query", "prompt")
    if text:
        return text
    tool = ctx.input.tool_input
    for name in ("description", "prompt", "command", "query"):
        value = tool.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def hook_embedder(model: str, load: Callable[[str], Any] | None = None) -> tuple[Any, str | None]:
    """The embedder if its prepared ONNX export exists here, else None (keyword-only)
    and why: a hook degrades, it neither waits for the export nor breaks. ``load``: a
    server's loader, whose model stays loaded between calls."""
    if model == "none":
        return None, None  # embeddings are off by policy: nothing to report
    try:
        from memctl.embeddings import get_embedder
        from memctl.embeddings.model_files import is_prepared
        from memctl.search.health import NOT_PREPARED

        if not is_prepared(model):
            return None, NOT_PREPARED
        return (load or get_embedder)(model), None
    except Exception as exc:
        return None, f"failed to load: {exc}"


def limit_of(ctx: HookContext) -> int:
    """``--limit`` (``-k``, ``--top-k``): memories injected at most, 1-50 (default 5)."""
    from memctl.search.relevance import DEFAULT_LIMIT

    raw = ctx.input.flag("limit", "k", "top_k")
    try:
        value = int(raw) if isinstance(raw, str) else DEFAULT_LIMIT
    except ValueError:
        value = DEFAULT_LIMIT
    return max(1, min(value, MAX_LIMIT))


def max_chars_of(ctx: HookContext) -> int:
    """``--max-chars``: characters of memory text injected at most (default 4000)."""
    from memctl.search.relevance import DEFAULT_MAX_CHARS

    raw = ctx.input.flag("max_chars")
    try:
        value = int(raw) if isinstance(raw, str) else DEFAULT_MAX_CHARS
    except ValueError:
        value = DEFAULT_MAX_CHARS
    return max(1, value)


def min_score_of(ctx: HookContext) -> float | None:
    """``--min-score`` (0-1) instead of the calibrated relevance threshold; None if not
    given (or not a number: a hook never fails over a flag)."""
    raw = ctx.input.flag("min_score")
    try:
        return max(0.0, min(float(raw), 1.0)) if isinstance(raw, str) else None
    except ValueError:
        return None


def is_task_scratch(hit: Hit) -> bool:
    """A session's own bookkeeping (its current-task note, its task log): the prompt
    itself, never useful as context."""
    from memctl.lifecycle.session_summary import is_bookkeeping

    return is_bookkeeping(hit.memory)


def find_context(
    ctx: HookContext, query: str, limit: int, exclude: Callable[[Hit], bool] | None = None
) -> PreTaskResult:
    """The memories relevant to ``query`` as hook context, by the relevance rule of
    every context hook (``search.relevance.relevant_context``). Hybrid when the model
    is prepared here, else keyword-only (said on stderr by the caller, counted in the
    lifecycle log); at most ``limit`` hits and ``--max-chars`` of text, none of the
    session's own bookkeeping nor any ``exclude`` rejects."""
    from memctl.search.relevance import relevant_context
    from memctl.store.memories import Filters

    result = PreTaskResult(query=query)
    model = ctx.policies.embedding_model
    mode = "keyword" if ctx.input.text("mode") == "keyword" else "hybrid"
    embedder, result.fallback = (
        hook_embedder(model, ctx.models) if mode == "hybrid" else (None, None)
    )
    if result.fallback:
        from memctl.search.health import record_keyword_fallback

        record_keyword_fallback(ctx.db, ctx.tenant, ctx.now, ctx.name, result.fallback)
    found = relevant_context(
        ctx.db,
        query,
        Filters(tenant=ctx.scoped_tenant, now=ctx.now),
        now=ctx.now,
        embedder=lambda: embedder,
        mode=mode,
        limit=limit,
        max_chars=max_chars_of(ctx),
        min_score=min_score_of(ctx),
        session_id=ctx.input.session_id,
        exclude=lambda hit: is_task_scratch(hit) or (exclude is not None and exclude(hit)),
        backlog_limit=BACKLOG_LIMIT,
    )
    result.hits = found.hits
    result.mode = "hybrid" if found.model else "keyword"
    result.pending_embeddings = found.pending_embeddings
    return result


def run(ctx: HookContext) -> PreTaskResult:
    cleaned = clean_coordination(ctx)
    query = task_query(ctx)
    result = find_context(ctx, query, limit_of(ctx)) if query else PreTaskResult(query=None)
    result.expired_coordination = cleaned["count"]
    session_id = ctx.input.session_id
    if session_id and query:
        result.task_id = remember_task(ctx, session_id, query)
    return result


def remember_task(ctx: HookContext, session_id: str, query: str) -> str:
    """Note the prompt as the session's current task (for post-task to pair with) and in
    its task log (for the session summary), in one write transaction."""
    from memctl.lifecycle.memories import StoreRequest, store
    from memctl.lifecycle.session_summary import note_task_started

    task_id = ctx.input.text("task_id") or f"{session_id}-{int(ctx.now * 1000)}"
    value = {"task_id": task_id, "description": clip(query), "started_at": iso(ctx.now)}
    with ctx.db.write():
        store(
            ctx.db,
            ctx.policies,
            ctx.now,
            StoreRequest(
                tenant=ctx.scoped_tenant,
                namespace="session",
                key=f"{session_id}/{CURRENT_TASK}",
                value=value,
                type="context",
                agent_id=ctx.input.agent_id,
                session_id=session_id,
            ),
        )
        note_task_started(
            ctx.db,
            ctx.policies,
            ctx.now,
            ctx.scoped_tenant,
            session_id,
            task_id,
            query,
            ctx.input.agent_id,
        )
    return task_id
