"""Rendering: ``--json`` documents, plain lines, rich tables and bars; errors to exit codes.

rich is imported only when a table or bar is drawn, so ``store``/``recall`` stay light.
"""

import sys
from collections.abc import Sequence
from typing import Any

import orjson

from memctl.errors import MemctlError

_JSON_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


def dumps(data: Any, indent: bool = True) -> str:
    return orjson.dumps(data, option=_JSON_OPTS if indent else orjson.OPT_NON_STR_KEYS).decode()


class Output:
    """Where a command's results go: one JSON document, or human text on stdout."""

    def __init__(self, json: bool = False, quiet: bool = False) -> None:
        self.json = json
        self.quiet = quiet

    def document(self, data: Any) -> None:
        """The ``--json`` result: one document on stdout, nothing else."""
        sys.stdout.write(dumps(data) + "\n")

    def line(self, text: str = "") -> None:
        if not self.quiet:
            sys.stdout.write(text + "\n")

    def value(self, value: Any) -> None:
        """A memory value as a user wants it back: strings raw, JSON indented."""
        if isinstance(value, str):
            sys.stdout.write(value if value.endswith("\n") else value + "\n")
        else:
            sys.stdout.write(dumps(value) + "\n")

    def note(self, text: str) -> None:
        """A diagnostic on stderr (suppressed by --quiet and --json)."""
        if not self.quiet and not self.json:
            sys.stderr.write(text + "\n")

    def table(
        self,
        title: str | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        justify: dict[str, str] | None = None,
    ) -> None:
        if self.quiet:
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        console = Console(soft_wrap=False)
        widths = _column_widths(columns, cells, console.width)
        for column, width in zip(columns, widths, strict=True):
            table.add_column(
                column,
                justify=(justify or {}).get(column, "left"),  # type: ignore[arg-type]
                no_wrap=True,
                overflow="ellipsis",
                width=width,
            )
        for row_cells in cells:
            table.add_row(*row_cells)
        console.print(table)

    def bars(self, title: str, items: Sequence[tuple[str, int]], width: int = 40) -> None:
        """A labelled horizontal bar chart (distributions in ``stats``)."""
        if self.quiet:
            return
        from rich.console import Console

        console = Console()
        console.print(f"[bold]{title}[/bold]")
        top = max((count for _, count in items), default=0) or 1
        label_width = max((len(label) for label, _ in items), default=0)
        for label, count in items:
            bar = "█" * max(1 if count else 0, round(width * count / top))
            console.print(f"  {label:>{label_width}} {bar} {count}", highlight=False)

    def error(self, exc: MemctlError, command: str) -> None:
        if self.json:
            sys.stderr.write(
                dumps(
                    {"error": {"kind": exc.kind, "message": str(exc), "exit_code": exc.exit_code}},
                    indent=False,
                )
                + "\n"
            )
        else:
            sys.stderr.write(f"memctl {command}: error: {exc}\n")


def _column_widths(columns: Sequence[str], cells: list[list[str]], total: int) -> list[int]:
    """Natural widths (at most 40) for every column but the last, which gets what is
    left (values, as a rule, cut with an ellipsis); the first column (paths) gives way
    only when even that leaves the last one under 12 characters."""
    natural = [max([len(col), *(len(row[i]) for row in cells)]) for i, col in enumerate(columns)]
    widths = [min(width, 40) for width in natural]
    room = total - 3 * (len(columns) - 1)  # " │ " between columns
    rest = room - sum(widths[:-1])
    if rest < 12 and len(widths) > 1:
        widths[0] = max(12, widths[0] - (12 - rest))
        rest = room - sum(widths[:-1])
    widths[-1] = max(6, min(natural[-1], rest))
    return widths


def when(ts: float | None) -> str:
    """A timestamp for a table cell: UTC to the minute."""
    if ts is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def short(value: Any, width: int = 60) -> str:
    """A value squeezed onto one table cell."""
    text = value if isinstance(value, str) else dumps(value, indent=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
