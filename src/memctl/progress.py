"""How long work says how far it got, without printing anything itself (docs/cli.md).

Lifecycle jobs (cleanup, decay, prune), import and export call a ``Progress`` once per
phase (``start``) and once per batch (``advance``); the command layer passes a bar
(``Output.progress``: on a terminal, not with ``--json``/``-q``) or nothing. Hooks and
the daemon pass nothing, so their output never carries a bar.
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
