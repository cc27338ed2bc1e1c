"""Backups and migration: ``memctl export`` / ``memctl import`` (README: export and import).

- ``memctl_format``: memctl's JSON Lines / JSON export, version 1 (writer and reader)
- ``claude_flow``: claude-flow v3 ``memory.db``, v3 JSON export, v2 ``memory-store.json``
- ``detect``: which format a file is in (``--from`` forces one)
- ``exporter`` / ``importer``: the two operations over ``memctl.store.transfer``
"""

from typing import Protocol


class Progress(Protocol):
    """Where long work reports how far it got (a rich bar on a terminal, else nothing)."""

    def start(self, total: int, what: str) -> None: ...

    def advance(self, count: int) -> None: ...


class NoProgress:
    def start(self, total: int, what: str) -> None:
        pass

    def advance(self, count: int) -> None:
        pass
