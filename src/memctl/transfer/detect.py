"""Which format an import file is in (``--from`` forces one), and the reader for it.

Detection: a SQLite header means a claude-flow v3 ``memory.db``; otherwise the content
(gunzipped if needed) is JSON: a first line ``{"format": "memctl-export", ...}`` is a
memctl export (JSON Lines, or one document when it has ``memories``); a document with
``"schema": "ruflo-memory-export/..."`` is a claude-flow v3 export; ``{namespace:
[entries]}`` is a claude-flow v2 store.
"""

from pathlib import Path
from typing import Any

from memctl.errors import BadInput
from memctl.transfer.claude_flow import (
    V2StoreSource,
    V3DatabaseSource,
    V3ExportSource,
    is_v2,
)
from memctl.transfer.files import SQLITE_MAGIC, first_line, head, parse_json, read_all, sniff
from memctl.transfer.memctl_format import FORMAT, JsonDocumentSource, JsonLinesSource
from memctl.transfer.records import Source

FORMATS = ("memctl", "claude-flow-v3", "claude-flow-v3-json", "claude-flow-v2")


def open_source(path: Path, forced: str | None = None) -> Source:
    if forced is not None and forced not in FORMATS:
        raise BadInput(f"--from must be one of {', '.join(FORMATS)}")
    magic = sniff(path)
    if not magic:
        raise BadInput(f"{path}: the file is empty")
    if magic.startswith(SQLITE_MAGIC):
        if forced not in (None, "claude-flow-v3"):
            raise BadInput(f"{path} is a SQLite database, not a {forced} file")
        return V3DatabaseSource(path)
    if forced == "claude-flow-v3":
        raise BadInput(f"{path}: not a SQLite database (a claude-flow v3 memory.db is one)")
    start = head(path).lstrip()
    if not start:
        raise BadInput(f"{path}: the file is empty")
    if not start.startswith(b"{"):
        raise BadInput(f"{path}: not a memctl export or claude-flow store (not JSON)")
    first = _first_line(path)
    if isinstance(first, dict) and "format" in first:
        if first.get("format") != FORMAT:
            raise BadInput(f"{path}:1: unknown export format {first.get('format')!r}")
        if forced not in (None, "memctl"):
            raise BadInput(f"{path} is a memctl export, not a {forced} file")
        if "memories" in first:
            return JsonDocumentSource(path, first)
        return JsonLinesSource(path)
    document = _document(path)
    if isinstance(document, dict) and document.get("format") == FORMAT:
        if forced not in (None, "memctl"):
            raise BadInput(f"{path} is a memctl export, not a {forced} file")
        return JsonDocumentSource(path, document)
    if forced == "memctl":
        raise BadInput(f'{path}: not a memctl export (no "format": "{FORMAT}" header)')
    schema = document.get("schema") if isinstance(document, dict) else None
    if forced == "claude-flow-v3-json" or (
        isinstance(schema, str) and schema.startswith("ruflo-memory-export")
    ):
        return V3ExportSource(path, document)
    if forced == "claude-flow-v2" or is_v2(document):
        return V2StoreSource(path, document)
    raise BadInput(
        f"{path}: unrecognised JSON layout (not a memctl export, a claude-flow v3 export or "
        f"a claude-flow v2 store); --from forces a format"
    )


def _first_line(path: Path) -> Any:
    """The first line as JSON, or None when it is not JSON (a pretty-printed document)."""
    line = first_line(path)
    try:
        return parse_json(line, str(path))
    except BadInput:
        return None


def _document(path: Path) -> Any:
    return parse_json(read_all(path), str(path))
