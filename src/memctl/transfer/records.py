"""The record every import reader produces, and the typed field readers they share.

A reader turns one source entry (a JSON line, a sqlite row, a JSON array item) into a
``Record`` or an ``Invalid`` that carries the entry's location (``FILE:LINE``, ``row id
X``, ``entries[3]``) and one line saying what is wrong.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from memctl.clock import utc
from memctl.models import MEMORY_FIELDS


class BadRecord(Exception):
    """One field of one record is wrong (turned into ``Invalid`` by the reader)."""


@dataclass
class Invalid:
    location: str
    error: str

    def __str__(self) -> str:
        return f"{self.location}: {self.error}"


@dataclass
class Record:
    """A memory as read from an import file, before policies and conflicts apply."""

    location: str
    namespace: str
    key: str
    value: Any
    tenant: str | None = None  # None: the importing tenant
    type: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    importance: float | None = None
    reward: float | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    created_at: float | None = None
    updated_at: float | None = None
    accessed_at: float | None = None
    expires_at: float | None = None
    policy_ttl: bool = False  # the source has no expiry field: the path's policy TTL applies
    last_decay_at: float | None = None
    promoted_at: float | None = None
    access_count: int = 0
    compressed: bool | None = None  # None: the policy decides
    embedding_model: str | None = None
    embedding: bytes | None = None
    archived_at: float | None = None
    archive_reason: str | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


# A record carries every field of a ``Memory`` but those the import derives again: the
# id (allocated on import), the size and the compression (of the value as stored here)
# and the embedding model (the vector's, when it is reused). tests/store/test_fields.py
# keeps this list equal to ``models.MEMORY_FIELDS`` minus those.
RECORD_FIELDS = tuple(
    name for name in MEMORY_FIELDS if name not in ("id", "size", "compressed", "embedding_model")
)


class Source(Protocol):
    """An import file opened by a reader. ``entries()`` reads it from the start each time
    it is called (validation pass, then write pass), keeping memory flat."""

    path: str
    format: str  # memctl-jsonl, memctl-json, claude-flow-v3, claude-flow-v3-json, ...
    expected: int | None  # the count the file announces, if any
    notes: dict[str, int]  # entries deliberately left out (e.g. claude-flow 'deleted' rows)

    def entries(self) -> Iterator[Record | Invalid]: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- typed fields


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text(data: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadRecord(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{name} must be a string, not {_type_name(value)}")
    return value


def number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(f"{name} must be a number, not {_type_name(value)}")
    return float(value)


def integer(data: dict[str, Any], name: str, default: int = 0) -> int:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{name} must be a whole number, not {_type_name(value)}")
    if value < 0:
        raise BadRecord(f"{name} must not be negative")
    return value


def boolean(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadRecord(f"{name} must be true or false, not {_type_name(value)}")
    return value


def string_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRecord(f"{name} must be an array of strings")
    return list(value)


def json_object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{name} must be an object, not {_type_name(value)}")
    return value


def timestamp(data: dict[str, Any], name: str) -> float | None:
    """ISO 8601 text (memctl exports) or epoch seconds."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadRecord(f"{name} must be an ISO 8601 time, not a boolean")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise BadRecord(f"{name} must be an ISO 8601 time, not {_type_name(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord(f"{name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def millis(data: dict[str, Any], name: str, required: bool = False) -> float | None:
    """claude-flow's epoch milliseconds to epoch seconds."""
    value = data.get(name)
    if value is None:
        if required:
            raise BadRecord(f"{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(f"{name} must be epoch milliseconds, not {_type_name(value)}")
    return float(value) / 1000.0


def iso_us(ts: float | None) -> str | None:
    """Epoch seconds to ISO 8601 UTC with microseconds: exports keep sub-millisecond write
    times, so a round trip keeps the order of close writes (lww, multi_value)."""
    if ts is None:
        return None
    return utc(ts).isoformat(timespec="microseconds").replace("+00:00", "Z")
