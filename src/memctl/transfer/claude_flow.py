"""claude-flow stores as import sources (samples in ``tests/fixtures/claude-flow/``).

- v3 ``.swarm/memory.db`` (claude-flow 3.x): table ``memory_entries``, timestamps in epoch
  milliseconds, ``tags``/``metadata`` as JSON text, ``status`` active|archived|deleted.
- v3 JSON export (``"schema": "ruflo-memory-export/v1"``): ``entries`` with ``createdAt``/
  ``updatedAt`` in milliseconds; no tags, no expiry.
- v2 ``memory-store.json`` and v2 ``memory export`` files: ``{namespace: [{key, value,
  namespace, timestamp}]}``, timestamp in milliseconds.

Mapping decisions (also in the README):
- ``content``/``value`` text is read like a ``memctl store`` argument: JSON if it parses as
  JSON (``{"task_id": ...}`` becomes an object), else the text.
- v3 ``expires_at`` is kept as it is (NULL = never, expired stays expired). The JSON
  formats carry no expiry, so the path's policy TTL applies from the entry's update time,
  as ``memctl store --timestamp`` would.
- claude-flow's vectors are NOT reused: the fixture's rows say ``Xenova/all-MiniLM-L6-v2``
  but their cosine with our all-MiniLM-L6-v2 vector of the same content is about 0
  (-0.07..0.07), and they embed the content alone where memctl embeds key + value. The
  memories join the embedding backlog (``memctl reindex``).
- ``owner_id`` becomes ``agent_id``; claude-flow types map to memctl types (semantic and
  working: context, episodic: episode, procedural and pattern: learning); the original id
  and type are kept in ``metadata.imported_from``. ``deleted`` rows are left out
  (counted); ``archived`` rows go to the archive.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from memctl.errors import BadInput
from memctl.lifecycle.values import parse_value
from memctl.store.claude_flow import ClaudeFlowDb
from memctl.transfer import records as rf
from memctl.transfer.records import BadRecord, Invalid, Record

V3_EXPORT_SCHEMA = "ruflo-memory-export/v1"
TYPE_MAP = {
    "semantic": "context",
    "working": "context",
    "episodic": "episode",
    "procedural": "learning",
    "pattern": "learning",
}
STATUSES = ("active", "archived", "deleted")


def _value(raw: Any, name: str) -> Any:
    if isinstance(raw, str):
        try:
            return parse_value(raw)
        except BadInput as exc:
            raise BadRecord(f"{name}: {exc}") from None
    if raw is None:
        raise BadRecord(f"{name} is missing")
    return raw


def _json_text(raw: Any, name: str) -> Any:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise BadRecord(f"{name} must be JSON text")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRecord(f"{name} is not valid JSON") from None


class V3DatabaseSource:
    """claude-flow v3 ``.swarm/memory.db``."""

    format = "claude-flow-v3"
    expected: int | None = None

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.db = ClaudeFlowDb(path)
        self.notes: dict[str, int] = {}

    def entries(self) -> Iterator[Record | Invalid]:
        self.notes = {}
        for row in self.db.rows():
            ident = row["id"] if row["id"] is not None else f"(rowid {row['_rowid']})"
            location = f"{self.path}: row id {ident}"
            try:
                status = row.get("status") or "active"
                if status not in STATUSES:
                    raise BadRecord(f"status {status!r} is not one of {', '.join(STATUSES)}")
                if status == "deleted":
                    self.notes["deleted_in_source"] = self.notes.get("deleted_in_source", 0) + 1
                    continue
                yield self._record(row, location, status == "archived")
            except BadRecord as exc:
                yield Invalid(location, str(exc))

    def _record(self, row: dict[str, Any], location: str, archived: bool) -> Record:
        tags = _json_text(row.get("tags"), "tags")
        if tags is not None and (
            not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
        ):
            raise BadRecord("tags must be a JSON array of strings")
        metadata = _json_text(row.get("metadata"), "metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRecord("metadata must be a JSON object")
        source_type = rf.text(row, "type") or "semantic"
        created = rf.millis(row, "created_at", required=True)
        updated = rf.millis(row, "updated_at") or created
        imported_from = {"format": self.format, "id": row["id"], "type": source_type}
        return Record(
            location=location,
            namespace=rf.text(row, "namespace") or "default",
            key=rf.text(row, "key", required=True) or "",
            value=_value(row.get("content"), "content"),
            type=TYPE_MAP.get(source_type, "context"),
            agent_id=rf.text(row, "owner_id"),
            tags=tags or [],
            metadata={**(metadata or {}), "imported_from": imported_from},
            created_at=created,
            updated_at=updated,
            accessed_at=rf.millis(row, "last_accessed_at"),
            expires_at=rf.millis(row, "expires_at"),
            access_count=rf.integer(row, "access_count"),
            archived_at=updated if archived else None,
            archive_reason="archived in claude-flow" if archived else None,
        )

    def close(self) -> None:
        self.db.close()


class V3ExportSource:
    """claude-flow v3 ``memory export`` JSON (``ruflo-memory-export/v1``)."""

    format = "claude-flow-v3-json"

    def __init__(self, path: Path, document: Any) -> None:
        self.path = str(path)
        self.notes: dict[str, int] = {}
        schema = document.get("schema") if isinstance(document, dict) else None
        if schema != V3_EXPORT_SCHEMA:
            raise BadInput(
                f"{path}: claude-flow export schema {schema!r} is not supported "
                f"(this memctl reads {V3_EXPORT_SCHEMA})"
            )
        entries = document.get("entries")
        if not isinstance(entries, list):
            raise BadInput(f'{path}: "entries" must be an array')
        self._entries: list[Any] = entries
        count = document.get("count")
        self.expected = count if isinstance(count, int) and not isinstance(count, bool) else None

    def entries(self) -> Iterator[Record | Invalid]:
        for index, item in enumerate(self._entries):
            location = f"{self.path}: entries[{index}]"
            if not isinstance(item, dict):
                yield Invalid(location, "an entry must be a JSON object")
                continue
            try:
                created = rf.millis(item, "createdAt", required=True)
                yield Record(
                    location=location,
                    namespace=rf.text(item, "namespace") or "default",
                    key=rf.text(item, "key", required=True) or "",
                    value=_value(item.get("value"), "value"),
                    tags=rf.string_list(item, "tags"),
                    metadata={"imported_from": {"format": self.format}},
                    created_at=created,
                    updated_at=rf.millis(item, "updatedAt") or created,
                    access_count=rf.integer(item, "accessCount"),
                    policy_ttl=True,
                )
            except BadRecord as exc:
                yield Invalid(location, str(exc))

    def close(self) -> None:
        pass


class V2StoreSource:
    """claude-flow v2 ``memory-store.json`` (and v2 ``memory export`` files)."""

    format = "claude-flow-v2"
    expected: int | None = None

    def __init__(self, path: Path, document: Any) -> None:
        self.path = str(path)
        self.notes: dict[str, int] = {}
        if not is_v2(document):
            raise BadInput(f"{path}: not a claude-flow v2 store ({{namespace: [entries]}})")
        self._document: dict[str, list[Any]] = document

    def entries(self) -> Iterator[Record | Invalid]:
        for group, items in self._document.items():
            for index, item in enumerate(items):
                location = f"{self.path}: {group}[{index}]"
                if not isinstance(item, dict):
                    yield Invalid(location, "an entry must be a JSON object")
                    continue
                try:
                    stamp = rf.millis(item, "timestamp")
                    origin: dict[str, Any] = {"format": self.format}
                    if item.get("redacted") is True:
                        origin["redacted"] = True
                    yield Record(
                        location=location,
                        namespace=rf.text(item, "namespace") or group,
                        key=rf.text(item, "key", required=True) or "",
                        value=_value(item.get("value"), "value"),
                        tags=rf.string_list(item, "tags"),
                        metadata={"imported_from": origin},
                        created_at=stamp,
                        updated_at=stamp,
                        policy_ttl=True,
                    )
                except BadRecord as exc:
                    yield Invalid(location, str(exc))

    def close(self) -> None:
        pass


def is_v2(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and bool(document)
        and all(isinstance(items, list) for items in document.values())
    )
