"""search and reindex."""

from typing import Annotated, Any

import typer

from memctl import limits
from memctl.api import operations as api
from memctl.commands.common import Settings, command
from memctl.errors import BadInput, from_kind
from memctl.models import Hit, SearchResult
from memctl.output import FORMATS

app = typer.Typer()


@command(app, "search", all_tenants=True, formats=FORMATS)
def search_cmd(
    settings: Settings,
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    limit: Annotated[int, typer.Option("--limit", "-k", help="Number of results (1-1000).")] = 10,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace or glob.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent")] = None,
    memory_type: Annotated[str | None, typer.Option("--type")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Has this tag (repeatable).")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, semantic or keyword.")] = "hybrid",
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop hits scoring below this (0-1).")
    ] = 0.0,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show the score's parts on the scale they are added on."),
    ] = False,
    archived: Annotated[
        bool, typer.Option("--archived", help="Search the archive instead.")
    ] = False,
    include_expired: Annotated[bool, typer.Option("--include-expired")] = False,
) -> None:
    """Rank memories for a natural-language query (vector similarity + keywords).

    Example: memctl search "how do we rotate login tokens" -k 5 --explain
    """
    arguments: dict[str, Any] = {
        "limit": limit,
        "namespace": namespace,
        "agent_id": agent,
        "type": memory_type,
        "tags": tag,
        "mode": mode,
        "min_score": min_score,
        "archived": archived,
        "include_expired": include_expired,
    }
    result = warm_search(settings, query, arguments) or api.search(settings, query, **arguments)
    columns = ["score", "path", "value"]
    if explain:
        columns[1:1] = ["similarity", "redundancy", "keyword", "sem#", "kw#"]

    def cells(hit: Hit) -> list[object]:
        row: list[object] = [f"{hit.score:.3f}", hit.memory.path, hit.memory.value]
        if explain:
            p = hit.parts
            row[1:1] = [
                "" if p["similarity"] is None else f"{p['similarity']:.3f}",
                "" if p["redundancy"] is None else f"{p['redundancy']:.3f}",
                f"{p['keyword']:.3f}",
                p["semantic_rank"] or "",
                p["keyword_rank"] or "",
            ]
        return row

    settings.out.listing(
        result.hits,
        columns=columns,
        cells=cells,
        record=Hit.to_dict,
        path=lambda hit: hit.memory.path,
        document=result.to_dict,
        justify={
            "score": "right",
            "similarity": "right",
            "redundancy": "right",
            "keyword": "right",
        },
    )
    if settings.json:
        return
    if not result.hits:
        settings.out.note("no matches")
    elif explain:
        settings.out.note(explain_note(result.mode))
    if result.pending_embeddings:
        settings.out.note(
            f"{result.pending_embeddings} memories await embedding (matched by "
            "keyword until then; `memctl reindex` embeds them now)"
        )
    if result.unscanned_vectors:
        settings.out.note(
            f"{result.unscanned_vectors} imported vectors wait for the search graph (in a "
            "large namespace their memories match by keyword until then; `memctl reindex` "
            "puts them in now)"
        )


@command(app, "reindex", all_tenants=True)
def reindex_cmd(
    settings: Settings,
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Re-embed every active memory of the tenant (after a model change)."
        ),
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="Embed at most this many; 0 = all.")] = 0,
) -> None:
    """Embed the memories waiting in the embedding backlog, and put vectors an import
    left outside a PostgreSQL hub's search graph into it.

    Example: memctl reindex --all
    """
    from memctl.embeddings import get_embedder
    from memctl.lifecycle.graph import graph_waiting, waiting
    from memctl.search.backlog import fill, forget
    from memctl.store.backend import backend_of

    limits.check(limit, "--limit", limits.COUNT)
    model = get_embedder(settings.policies.embedding_model, settings.announce)
    if model is None:
        raise BadInput("embedding.model is 'none' in the policies: nothing to embed")
    db = settings.open()
    if everything:
        forget(db, settings.scope)
    total = backend_of(db).vectors.pending_count(db, model.model_id, settings.scope)
    goal = min(total, limit) if limit else total
    with settings.out.progress() as bar:
        bar.start(goal, "embedding")
        done = fill(db, model, goal, settings.scope, progress=bar)
        outside = waiting(db)
        if outside:
            bar.start(outside, "adding to the search graph")
        graphed = graph_waiting(db, progress=bar) if outside else 0
    left = backend_of(db).vectors.pending_count(db, model.model_id, settings.scope)
    if settings.json:
        settings.out.document(
            {"embedded": done, "pending": left, "model": model.model_id, "graphed": graphed}
        )
    else:
        graph = f"; {graphed} vectors put into the search graph" if graphed else ""
        settings.out.line(f"embedded {done} memories with {model.model_id}; {left} pending{graph}")


def explain_note(mode: str) -> str:
    """How ``--explain``'s parts add up to the score in ``mode``."""
    from memctl.search.scoring import (
        KEYWORD_WEIGHT,
        NEAR_COPY,
        NEAR_COPY_CAP,
        NEAR_COPY_WEIGHT,
        PENDING_STAND_IN,
        REDUNDANCY_WEIGHT,
    )

    semantic = (
        f"similarity - {REDUNDANCY_WEIGHT:g} x redundancy - min({NEAR_COPY_CAP:g}, "
        f"{NEAR_COPY_WEIGHT:g} x redundancy above {NEAR_COPY:g} and above similarity)"
    )
    pending = f"; no similarity yet (pending embedding): {PENDING_STAND_IN:g} x keyword"
    if mode == "keyword":
        return "score = keyword"
    if mode == "semantic":
        return f"score = {semantic}{pending}"
    return f"score = {semantic} + {KEYWORD_WEIGHT:g} x keyword{pending}"


def warm_search(settings: Settings, query: str, arguments: dict[str, Any]) -> SearchResult | None:
    """The search done by a running ``memctl serve`` for this database, with its model
    already loaded (docs/serve.md); None when no server answers in time: the caller
    searches in-process, with the same results."""
    from memctl.warm import ask, enabled, socket_for

    if not enabled():
        return None
    answer = ask(
        socket_for(settings.db_path),
        "/warm/search",
        {
            "db": str(settings.db_path),
            "policies": str(settings.policies_path),
            "tenant": settings.tenant,
            "all_tenants": settings.all_tenants,
            "now": settings.now(),
            "args": {"query": query, **arguments},
        },
    )
    if answer is None:
        return None
    if "error" in answer:
        error = answer["error"]
        raise from_kind(str(error.get("kind")), str(error.get("message")))
    return SearchResult.from_dict(answer["result"])
