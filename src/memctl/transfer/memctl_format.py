"""memctl's own export format, version 1: writer and reader.

JSON Lines (the default): a header line, then one memory per line::

    {"format": "memctl-export", "version": 1, "exported_at": ..., "memctl_version": ...,
     "tenants": [...], "embedding": {"model": ..., "dimension": 384, "included": false},
     "counts": {"memories": N, "archived": M, "total": N+M}, "filters": {...}}
    {"id": 1, "tenant": "default", "namespace": "knowledge", "key": "auth/jwt", ...}

Each memory line has every field of ``Memory.to_dict()`` (values decompressed) with
timestamps in ISO 8601 at microsecond precision and the unrounded importance, plus
``embedding`` (base64 of little-endian float32) with ``--include-embeddings``.
``--format json`` writes the same header as one document with a ``memories`` array.
"""

import base64
import binascii
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from memctl.errors import BadInput
from memctl.models import TIME_FIELDS, Memory, conflicts_out
from memctl.transfer import records as rf
from memctl.transfer.files import first_line, lines, parse_json
from memctl.transfer.records import BadRecord, Invalid, Record, iso_us

FORMAT = "memctl-export"
VERSION = 1
# How each field of an export line is read back: ``Memory``'s fields, by kind. ``id``,
# ``size`` and ``path`` are derived again on import; ``namespace``, ``key``, ``value``,
# ``conflicts`` and ``archive_reason`` are read by ``parse_record`` itself
# (tests/store/test_fields.py checks that every field has its reader).
READERS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    **dict.fromkeys(("tenant", "type", "agent_id", "session_id", "embedding_model"), rf.text),
    "tags": rf.string_list,
    "metadata": rf.json_object,
    "importance": rf.number,
    "reward": rf.number,
    **dict.fromkeys(TIME_FIELDS, rf.timestamp),
    "access_count": rf.integer,
    "compressed": rf.boolean,
}


# ---------------------------------------------------------------- writing


def record_dict(memory: Memory, vector: bytes | None) -> dict[str, Any]:
    data = memory.to_dict()
    data["importance"] = memory.importance
    for name in TIME_FIELDS:
        data[name] = iso_us(getattr(memory, name))
    data["conflicts"] = conflicts_out(memory.conflicts, iso_us)
    if vector is not None:
        data["embedding"] = base64.b64encode(vector).decode("ascii")
    return data


def write_jsonl(out: IO[bytes], header: dict[str, Any], rows: Iterator[dict[str, Any]]) -> int:
    out.write(orjson.dumps(header) + b"\n")
    written = 0
    for row in rows:
        out.write(orjson.dumps(row) + b"\n")
        written += 1
    return written


def write_json(out: IO[bytes], header: dict[str, Any], rows: Iterator[dict[str, Any]]) -> int:
    """One JSON document, still written row by row."""
    out.write(orjson.dumps(header)[:-1] + b',"memories":[\n')
    written = 0
    for row in rows:
        out.write((b",\n" if written else b"") + orjson.dumps(row))
        written += 1
    out.write(b"\n]}\n")
    return written


# ---------------------------------------------------------------- reading


def check_header(header: Any, where: str) -> dict[str, Any]:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BadInput(f'{where}: not a memctl export header (expected "format": "{FORMAT}")')
    version = header.get("version")
    if version != VERSION:
        raise BadInput(
            f"{where}: memctl export format version {version!r} is not supported "
            f"(this memctl reads version {VERSION})"
        )
    return header


def expected_count(header: dict[str, Any], where: str) -> int | None:
    counts = header.get("counts")
    if counts is None:
        return None
    total = counts.get("total") if isinstance(counts, dict) else None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise BadInput(f"{where}: header counts.total must be a whole number")
    return total


def parse_record(data: Any, location: str) -> Record | Invalid:
    """A memctl export line (already JSON-decoded) to a ``Record``."""
    if not isinstance(data, dict):
        return Invalid(location, "a memory must be a JSON object")
    try:
        if "value" not in data:
            raise BadRecord("value is missing")
        fields = {name: read(data, name) for name, read in READERS.items()}
        archived = fields["archived_at"] is not None
        return Record(
            location=location,
            namespace=rf.text(data, "namespace", required=True) or "",
            key=rf.text(data, "key", required=True) or "",
            value=data["value"],
            conflicts=_conflicts(data),
            embedding=_embedding(data),
            archive_reason=(rf.text(data, "archive_reason") or "imported") if archived else None,
            **fields,
        )
    except BadRecord as exc:
        return Invalid(location, str(exc))


def _conflicts(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("conflicts")
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadRecord("conflicts must be an array")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "value" not in item:
            raise BadRecord(f"conflicts[{index}] must be an object with a value")
        # ISO 8601 since exports print every time that way; epoch seconds in older files
        stamp = rf.timestamp(item, "timestamp")
        if stamp is None:
            raise BadRecord(f"conflicts[{index}].timestamp is missing")
        out.append(
            {"value": item["value"], "timestamp": stamp, "agent_id": rf.text(item, "agent_id")}
        )
    return out


def _embedding(data: dict[str, Any]) -> bytes | None:
    encoded = rf.text(data, "embedding")
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRecord("embedding is not base64") from None


class JsonLinesSource:
    """A memctl JSON Lines export (plain or gzip)."""

    format = "memctl-jsonl"

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._file = path
        self.notes: dict[str, int] = {}
        header = parse_json(first_line(path), f"{path}:1", "header is not valid JSON")
        self.header = check_header(header, f"{path}:1")
        self.expected = expected_count(self.header, f"{path}:1")

    def entries(self) -> Iterator[Record | Invalid]:
        for line_no, line in lines(self._file):
            if line_no == 1 or not line.strip():
                continue  # the header
            location = f"{self.path}:{line_no}"
            try:
                data = parse_json(line, location)
            except BadInput as exc:
                yield Invalid(location, str(exc).removeprefix(f"{location}: "))
                continue
            yield parse_record(data, location)

    def close(self) -> None:
        pass


class JsonDocumentSource:
    """A memctl ``--format json`` export: one document (read whole; for small sets)."""

    format = "memctl-json"

    def __init__(self, path: Path, document: Any) -> None:
        self.path = str(path)
        self.notes: dict[str, int] = {}
        self.header = check_header(document, str(path))
        self.expected = expected_count(self.header, str(path))
        memories = document.get("memories")
        if not isinstance(memories, list):
            raise BadInput(f'{path}: "memories" must be an array')
        self._memories: list[Any] = memories

    def entries(self) -> Iterator[Record | Invalid]:
        for index, data in enumerate(self._memories):
            yield parse_record(data, f"{self.path}: memories[{index}]")

    def close(self) -> None:
        pass
