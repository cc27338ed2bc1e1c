"""Vectors written in bulk on PostgreSQL wait outside the HNSW search graph
(store/postgres/vectors.py says why and how search finds them meanwhile); here they are
put into it, in short write transactions: by ``memctl import`` (the first
``AFTER_IMPORT``), the daemon's ``embed`` job and ``memctl reindex`` (the rest). SQLite
has none waiting."""

from concurrent.futures import ThreadPoolExecutor

from memctl.progress import Progress
from memctl.store.backend import backend_of
from memctl.store.db import Database

# Waiting vectors put into the graph per write transaction: each costs the server 3.6-10
# ms at 1M (docs/storage.md), so a transaction holds its rows for 1-2 s at most.
GRAPH_BATCH = 200


def waiting(db: Database) -> int:
    """How many vectors wait outside the search graph."""
    return backend_of(db).vectors.waiting_count(db)


def graph_waiting(db: Database, limit: int | None = None, progress: Progress | None = None) -> int:
    """Put vectors waiting outside the search graph into it (only PostgreSQL has any), at
    most ``limit`` (None: all), ``GRAPH_BATCH`` per short write transaction, on two
    connections at once when there are more than a batch: the server inserts into the
    graph on one core per connection (at 1M, 99,000 vectors took 712 s on one, 349 s on
    two: ``scripts/bench_postgres.py --only import --catch-up``), and ``SKIP LOCKED``
    gives each its own rows (as it leaves another process's to it). Returns how many; ``progress``
    hears of each batch."""
    if waiting(db) == 0:
        return 0
    other = db.sibling()
    if other is None or (limit is not None and limit <= GRAPH_BATCH):
        return _graph(db, limit, progress)
    half = None if limit is None else limit // 2
    # leaving the block waits for the helper: the sibling connection is never closed
    # under it, also when this thread raised
    with ThreadPoolExecutor(max_workers=1) as pool:
        helper = pool.submit(_graph, other, half, progress)
        done = _graph(db, None if limit is None or half is None else limit - half, progress)
        return done + helper.result()


def _graph(db: Database, limit: int | None, progress: Progress | None) -> int:
    done = 0
    while limit is None or done < limit:
        size = GRAPH_BATCH if limit is None else min(GRAPH_BATCH, limit - done)
        with db.write():
            moved = backend_of(db).vectors.graph_some(db, size)
        if moved == 0:
            break
        done += moved
        if progress is not None:
            progress.advance(moved)
    return done


# What an import puts into the graph itself once its write has committed: ~4 s at 1M
# (and all of a typical import: searches then pay nothing for it); a bigger one leaves
# the rest to the daemon, and its memories are found by keyword meanwhile.
AFTER_IMPORT = 1_000
