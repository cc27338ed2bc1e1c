"""Result dataclasses passed from the library to the output layer.

``to_dict`` is each result's ``--json`` document: the one shape the command line prints,
the MCP tools return and ``memctl serve`` will answer with (docs/api.md)."""

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from memctl.clock import iso, parse_time


def _time(text: Any) -> float | None:
    return None if text is None else parse_time(str(text))


@dataclass
class Memory:
    id: int
    tenant: str
    namespace: str
    key: str
    value: Any
    type: str = "context"
    agent_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    importance: float = 5.0
    reward: float | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    accessed_at: float | None = None
    expires_at: float | None = None
    last_decay_at: float | None = None
    promoted_at: float | None = None
    access_count: int = 0
    size: int = 0
    compressed: bool = False
    embedding_model: str | None = None
    archived_at: float | None = None
    archive_reason: str | None = None

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.key}"

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_dict(self) -> dict[str, Any]:
        """Every field in declaration order, ``path`` after ``key``, times as ISO 8601
        (the JSON and export form)."""
        out: dict[str, Any] = {}
        for name in MEMORY_FIELDS:
            value = getattr(self, name)
            if name in TIME_FIELDS:
                value = iso(value)
            elif name == "importance":
                value = round(value, 4)
            elif name == "conflicts":
                value = conflicts_out(value)
            out[name] = value
            if name == "key":
                out["path"] = self.path
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Memory":
        """A memory from its ``to_dict`` document (the warm path's answers); its
        ``to_dict`` is that document again."""
        values: dict[str, Any] = {}
        for name in MEMORY_FIELDS:
            value = data[name]
            if name in TIME_FIELDS:
                value = _time(value)
                if value is None and name in ("created_at", "updated_at"):
                    value = 0.0
            elif name == "conflicts":
                value = [{**item, "timestamp": _time(item["timestamp"])} for item in value]
            values[name] = value
        return cls(**values)


# The one list of a memory's fields: the store's columns (store/columns.py), the JSON and
# export shape (to_dict) and the import record (transfer/records.py) are checked against
# it by tests/store/test_fields.py.
MEMORY_FIELDS = tuple(f.name for f in fields(Memory))
TIME_FIELDS = tuple(name for name in MEMORY_FIELDS if name.endswith("_at"))


def conflicts_out(
    conflicts: list[dict[str, Any]], when: Callable[[float], str | None] = iso
) -> list[dict[str, Any]]:
    """Conflict values as output shows them: the timestamp (stored as epoch seconds, like
    every time in the database) in ISO 8601, as every other time memctl prints."""
    return [{**item, "timestamp": when(float(item["timestamp"]))} for item in conflicts]


@dataclass
class StoreResult:
    action: str  # created | updated | merged | ignored
    memory: Memory
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        memory = self.memory
        return {
            "action": self.action,
            "detail": self.detail,
            "path": memory.path,
            "namespace": memory.namespace,
            "key": memory.key,
            "tenant": memory.tenant,
            "id": memory.id,
            "value": memory.value,
            "conflicts": conflicts_out(memory.conflicts),
            "expires_at": iso(memory.expires_at),
            "compressed": memory.compressed,
        }


@dataclass
class Hit:
    memory: Memory
    score: float
    parts: dict[str, float | int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The hit as one record: its score, the score's parts, then every memory field."""
        return {"score": self.score, "parts": self.parts, **self.memory.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Hit":
        return cls(Memory.from_dict(data), float(data["score"]), dict(data["parts"]))


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    pending_embeddings: int = 0
    model: str | None = None
    # vectors an import left outside a hub's search graph, too many to scan beside it:
    # their memories are matched by keyword (and in small filters by vector) meanwhile
    unscanned_vectors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
            "model": self.model,
            "pending_embeddings": self.pending_embeddings,
            "unscanned_vectors": self.unscanned_vectors,
            "hits": [hit.to_dict() for hit in self.hits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SearchResult":
        return cls(
            data["query"],
            data["mode"],
            [Hit.from_dict(hit) for hit in data["hits"]],
            int(data["pending_embeddings"]),
            data["model"],
            int(data.get("unscanned_vectors", 0)),
        )


@dataclass
class Listing:
    """A page of memories (``list``): ``total`` counts every match, ``memories`` the
    ones returned (at most the limit asked for)."""

    total: int
    memories: list[Memory]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "count": len(self.memories),
            "memories": [m.to_dict() for m in self.memories],
        }


@dataclass
class Forgotten:
    """What ``delete`` (forget) did, or with ``dry_run`` would do, to these paths."""

    action: str  # archived | deleted
    dry_run: bool
    count: int
    paths: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "count": self.count,
            "paths": self.paths,
        }


@dataclass
class Restored:
    """Memories brought back from the archive, as they are now."""

    memories: list[Memory]
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": len(self.memories),
            "duration_ms": round(self.duration_ms, 1),
            "memories": [m.to_dict() for m in self.memories],
        }
