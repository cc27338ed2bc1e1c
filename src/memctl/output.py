"""Rendering: ``--json`` documents, plain lines, tables, lists in several formats, bars;
errors to exit codes (docs/cli.md).

Lists (``list``, ``search``, ``stats --history``, ``promote``) go through
``Output.listing``, which prints one of ``FORMATS``:
- ``table``: on a terminal, a rich table fitted to its width (long cells end in "…");
  when stdout is a file or a pipe, plain aligned columns with nothing cut, since no
  terminal width applies there (a cut path in ``memctl list > f`` is lost data);
- ``json``: the command's ``--json`` document (``--json`` is ``--format json``);
- ``jsonl``: one JSON object per item, every field;
- ``tsv``: the table's columns, tab-separated with a header line, nothing cut; tabs,
  newlines and backslashes inside a cell are written as ``\\t``, ``\\n``, ``\\\\``;
- ``paths``: one memory path per line (for ``xargs`` and loops).

rich is imported only when a table or bar is drawn on a terminal, so ``store``/``recall``
stay light.
"""

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import orjson

from memctl.errors import MemctlError
from memctl.progress import NoProgress, Progress

_JSON_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
FORMATS = ("table", "json", "jsonl", "tsv", "paths")
T = TypeVar("T")
# On a terminal a cell never shows more than this many characters, so a 1 MiB value is
# not flattened whole just to be cut to the screen width.
_TERMINAL_CELL_CHARS = 1000


def dumps(data: Any, indent: bool = True) -> str:
    return orjson.dumps(data, option=_JSON_OPTS if indent else orjson.OPT_NON_STR_KEYS).decode()


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def text_of(value: Any) -> str:
    """A value as text for a cell: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return dumps(value, indent=False)


def flat(text: str) -> str:
    """One line: runs of whitespace (newlines, tabs) become one space."""
    return " ".join(text.split())


def tsv_cell(value: Any) -> str:
    text = text_of(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Output:
    """Where a command's results go: one JSON document, or human text on stdout."""

    def __init__(self, json: bool = False, quiet: bool = False, format: str = "table") -> None:
        self.json = json or format == "json"
        self.quiet = quiet
        self.format = "json" if json else format

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

    def status(self, text: str) -> None:
        """What a long wait is about, on stderr: shown unless ``-q``, also with ``--json``
        (its document is on stdout), so a command never stalls without a word."""
        if not self.quiet:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def listing(
        self,
        items: Sequence[T],
        *,
        columns: Sequence[str],
        cells: Callable[[T], Sequence[Any]],
        record: Callable[[T], Any],
        document: Callable[[], Any],
        path: Callable[[T], str] | None = None,
        title: str | None = None,
        justify: dict[str, str] | None = None,
    ) -> None:
        """Print ``items`` in ``self.format`` (see the module docstring). The table and
        tsv show ``cells(item)``, jsonl ``record(item)``, json ``document()`` and paths
        ``path(item)``; only the one asked for is computed. ``-q`` silences the table
        (as every human output), not a format asked for by name."""
        fmt = self.format
        if fmt == "json":
            self.document(document())
        elif fmt == "jsonl":
            write = sys.stdout.write
            for item in items:
                write(dumps(record(item), indent=False) + "\n")
        elif fmt == "tsv":
            self.tsv(columns, (cells(item) for item in items))
        elif fmt == "paths":
            if path is None:  # commands declare which formats they offer; see common.command
                raise ValueError("this listing has no paths")
            sys.stdout.write("".join(path(item) + "\n" for item in items))
        else:
            self.table(title, columns, [cells(item) for item in items], justify)

    def tsv(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        write = sys.stdout.write
        write("\t".join(tsv_cell(column) for column in columns) + "\n")
        for row in rows:
            write("\t".join(tsv_cell(cell) for cell in row) + "\n")

    def table(
        self,
        title: str | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        justify: dict[str, str] | None = None,
    ) -> None:
        """A table on stdout: fitted to a terminal, whole (nothing cut) anywhere else."""
        if self.quiet:
            return
        if not stdout_is_terminal():
            _plain_table(title, columns, [[flat(text_of(c)) for c in row] for row in rows], justify)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
        cells = [[flat(text_of(c)[:_TERMINAL_CELL_CHARS]) for c in row] for row in rows]
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

    @contextlib.contextmanager
    def progress(self) -> Iterator[Progress]:
        """A progress bar on stderr while the block runs, only when stderr is a terminal
        and neither ``--json`` nor ``-q`` was given: cron, pipes and scripts see nothing."""
        if self.quiet or self.json or not stderr_is_terminal():
            yield NoProgress()
            return
        bar = _Bar()
        with bar.progress:
            yield bar

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
            sys.stderr.write(dumps(error_document(exc), indent=False) + "\n")
        else:
            sys.stderr.write(error_line(exc, command) + "\n")


def error_document(exc: MemctlError) -> dict[str, Any]:
    """An error as JSON (``--json`` on stderr; an MCP tool error's structured content)."""
    return {"error": {"kind": exc.kind, "message": str(exc), "exit_code": exc.exit_code}}


def error_line(exc: MemctlError, command: str) -> str:
    """An error as one line: ``memctl COMMAND: error: message`` (docs/cli.md)."""
    return f"memctl {command}: error: {exc}"


class _Bar:
    """A rich progress bar on stderr, one task at a time (``start`` replaces the last)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task: Any = None

    def start(self, total: int, what: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(what, total=total or None)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)


def _plain_table(
    title: str | None,
    columns: Sequence[str],
    cells: list[list[str]],
    justify: dict[str, str] | None,
) -> None:
    """Aligned columns, two spaces apart, no cell cut and no trailing spaces: a table as
    it should land in a file or a pipe (``rich`` would fit it to an 80-column default)."""
    from rich.cells import cell_len  # display width: wide characters take two columns

    widths = [
        max([cell_len(column), *(cell_len(row[i]) for row in cells)])
        for i, column in enumerate(columns)
    ]
    right = {i for i, column in enumerate(columns) if (justify or {}).get(column) == "right"}

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, (text, width) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (width - cell_len(text))
            last = i == len(widths) - 1
            parts.append(pad + text if i in right else text if last else text + pad)
        return "  ".join(parts).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(list(columns)))
    out.extend(line(row) for row in cells)
    sys.stdout.write("\n".join(out) + "\n")


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
    from memctl.clock import utc

    return utc(ts).strftime("%Y-%m-%d %H:%M")


def short(value: Any, width: int = 60) -> str:
    """A value squeezed onto one table cell."""
    text = value if isinstance(value, str) else dumps(value, indent=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
