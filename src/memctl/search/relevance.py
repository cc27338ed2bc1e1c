"""What a hook puts in front of an agent: the memories relevant to a task, or none.

One rule for every hook that injects context (``hook pre-task``, and SessionStart):
a wrong memory injected costs tokens and misleads the agent, so the bar is a calibrated
score, not "the top 5 whatever they are". Measured with ``scripts/eval_search.py``
(docs/search.md):

- ranking is ``search``'s hybrid ranking; a memory qualifies when its score reaches
  ``RELEVANCE`` (0.5) and is within ``MARGIN`` (0.1) of the best one's. On the eval's
  no-answer queries nothing is injected in 100 % of cases in the ~80-memory stores and
  94 % in the 2,600-memory one (0.45 gave 89 % there); 90-92 % of what is injected
  answers the query, and about half the answerable queries get a right memory: the
  others score no higher than the no-answer queries' best matches, and a wrong memory
  injected is worse than none;
- keyword-only (no prepared model): a memory qualifies when its keyword evidence
  reaches ``KEYWORD_RELEVANCE`` (0.5: it holds every word of the query and ranks first
  or second among such, or it holds two or more of the query's rare words);
- never a memory this session stored or updated in the last ``FRESH_SECONDS`` (the
  agent has just written it; echoing it back is noise);
- at most ``limit`` memories and ``max_chars`` characters of memory text (each memory's
  text cut at ``MEMORY_CHARS``); a memory that does not fit is skipped, a smaller one
  after it may still fit.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from memctl.embeddings import Embedder
from memctl.models import Hit, Memory, SearchResult
from memctl.store.db import Database
from memctl.store.memories import Filters

DEFAULT_LIMIT = 5
DEFAULT_MAX_CHARS = 4000
MEMORY_CHARS = 1200  # one memory's text at most, in the injected context
FRESH_SECONDS = 60.0
RELEVANCE = 0.5
MARGIN = 0.1
KEYWORD_RELEVANCE = 0.5
CANDIDATES = 30  # ranked before the rule picks; the ranking does not depend on it


def memory_text(value: Any) -> str:
    """A memory's value as injected: text as is, JSON compact, cut at ``MEMORY_CHARS``."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= MEMORY_CHARS else text[: MEMORY_CHARS - 1] + "…"


def relevant_context(
    db: Database,
    query: str,
    filters: Filters,
    *,
    now: float,
    embedder: Callable[[], Embedder | None] = lambda: None,
    mode: str = "hybrid",
    limit: int = DEFAULT_LIMIT,
    max_chars: int = DEFAULT_MAX_CHARS,
    min_score: float | None = None,
    session_id: str | None = None,
    exclude: Callable[[Hit], bool] | None = None,
    backlog_limit: int = 8,
) -> SearchResult:
    """The memories worth injecting for ``query`` (possibly none), best first.

    ``min_score`` replaces ``RELEVANCE`` (and applies to keyword-only scores too);
    ``exclude`` drops memories the caller knows are noise (a hook's own scratch notes).
    """
    from memctl.search.ranking import search  # the model stack only when searching

    found = search(
        db,
        query,
        filters,
        limit=max(CANDIDATES, limit * 3),
        mode=mode,
        embedder=embedder,
        backlog_limit=backlog_limit,
    )
    with_vectors = found.model is not None
    threshold = (
        min_score if min_score is not None else RELEVANCE if with_vectors else KEYWORD_RELEVANCE
    )
    eligible = [
        hit
        for hit in found.hits
        if not _fresh_from(hit.memory, session_id, now) and not (exclude and exclude(hit))
    ]
    if with_vectors and eligible:
        threshold = max(threshold, eligible[0].score - MARGIN)
    chosen: list[Hit] = []
    used = 0
    for hit in eligible:
        if len(chosen) == limit or hit.score < threshold:
            break  # hits come best first
        size = len(memory_text(hit.memory.value))
        if used + size > max_chars:
            continue
        chosen.append(hit)
        used += size
    return replace(found, hits=chosen)


def _fresh_from(memory: Memory, session_id: str | None, now: float) -> bool:
    """Stored or updated by this session within the last ``FRESH_SECONDS``."""
    return (
        session_id is not None
        and memory.session_id == session_id
        and memory.updated_at >= now - FRESH_SECONDS
    )
