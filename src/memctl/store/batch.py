"""Statement batches: how many ids go into one ``IN (...)`` and how to write its marks."""

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# ids per statement (and per write batch of fixed size): well under SQLite's 32,766
# bound parameters, and short write transactions (NOTES-sqlite.md)
BATCH = 500


def chunks(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items."""
    listed = items if isinstance(items, list) else list(items)
    for start in range(0, len(listed), size):
        yield listed[start : start + size]


def marks(items: Sequence[object]) -> str:
    """``?,?,?`` for an ``IN (...)`` over ``items``."""
    return ",".join("?" * len(items))
