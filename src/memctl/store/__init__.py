"""The store: the only place SQL lives. ``open_database`` is the way in."""

from memctl.store.db import Database
from memctl.store.opening import open_database

__all__ = ["Database", "open_database"]
