"""What each operation takes over the wire — one JSON object of named fields — written
once, as data: the JSON Schema a client sees (MCP input schemas; later the OpenAPI of
``memctl serve``) and the check every call goes through (docs/api.md).

``parse`` refuses a bad object with one line naming the field, before anything is
opened: unknown or missing fields, wrong JSON types, ``null``, invalid UTF-8, values
outside an enum, numbers outside their ``memctl.limits`` range (integral floats such as
``5.0`` count as whole numbers; ``inf``, ``nan`` and ``1e400`` are out of range). The
operation then applies its own rules (paths, globs, the value's size).

Field names are those of the ``--json`` memory (``agent_id``, ``tags``, ``ttl`` in
seconds). No schema uses ``oneOf``/``anyOf`` at the top level (model APIs refuse such
tool schemas): the alternatives — ``path``, or ``key`` with an optional ``namespace``;
``id`` or ``path`` for a restore — are said in the descriptions and checked here.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from memctl import limits
from memctl.api import operations
from memctl.clock import parse_time
from memctl.errors import BadInput
from memctl.lifecycle.values import check_text
from memctl.store.memories import SORTS

# How many memories one wire call may ask for: the rule search has on the command line
# too (limits.RESULTS). (The command line's `list --limit 0` lists everything.)
WIRE_LIMIT = limits.RESULTS
ARCHIVE_ID = limits.Range(1, limits.COUNT_MAX, f"whole numbers 1 to {limits.COUNT_MAX}", True)
MODES = ("hybrid", "semantic", "keyword")  # search.ranking.MODES, kept light; tested equal
_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "strings": "array",
    "object": "object",
}


@dataclass(frozen=True)
class Field:
    """One named field of an operation's arguments object."""

    name: str
    kind: str  # string | integer | number | boolean | strings | object | value | time
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    allowed: limits.Range | None = None
    default: Any = None  # documentation only: an absent field takes the operation's default

    def schema(self) -> dict[str, Any]:
        if self.kind == "value":
            spec: dict[str, Any] = {
                "type": ["string", "number", "integer", "boolean", "object", "array", "null"]
            }
        elif self.kind == "time":
            spec = {"type": ["number", "string"]}
        else:
            spec = {"type": _JSON_TYPES[self.kind]}
        if self.kind == "strings":
            spec["items"] = {"type": "string"}
        if self.kind == "string" and self.required:
            spec["minLength"] = 1
        if self.choices:
            spec["enum"] = list(self.choices)
        if self.allowed is not None:
            spec["minimum"], spec["maximum"] = _bound(self.allowed.lo), _bound(self.allowed.hi)
        if self.default is not None:
            spec["default"] = self.default
        spec["description"] = self.description
        return spec

    def check(self, value: Any) -> Any:
        """``value`` as the operation takes it, or BadInput naming this field."""
        name, kind = self.name, self.kind
        if kind == "value":
            return value
        if value is None:
            raise BadInput(f"{name} must be {_A[kind]}, not null")
        if kind == "string":
            if not isinstance(value, str):
                raise BadInput(f"{name} must be a string, not {_json_type(value)}")
            check_text(value, name)
            if self.required and not value.strip():
                raise BadInput(f"{name} is empty")
            if self.choices and value not in self.choices:
                raise BadInput(f"{name} must be one of {', '.join(self.choices)}")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise BadInput(f"{name} must be true or false, not {_json_type(value)}")
            return value
        if kind == "strings":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BadInput(f"{name} must be a list of strings")
            for item in value:
                check_text(item, name)
            return value
        if kind == "object":
            if not isinstance(value, dict):
                raise BadInput(f"{name} must be a JSON object, not {_json_type(value)}")
            return value
        if kind == "time":
            if isinstance(value, str):
                return parse_time(value, name)
            return limits.check(_number(name, value), name, limits.TIME)
        number = _number(name, value)
        if kind == "integer" and isinstance(number, float) and number.is_integer():
            number = int(number)  # 5.0 from a client that sends every number as a float
        assert self.allowed is not None, name
        return limits.check(number, name, self.allowed)


@dataclass(frozen=True)
class Operation:
    """An operation of ``api.operations`` as the wire sees it."""

    name: str
    call: Callable[..., Any]
    fields: tuple[Field, ...]
    # extra rules across fields, and the renaming of wire fields to the function's
    # keywords (``id``/``path`` of a restore become its ``target``)
    finish: Callable[[dict[str, Any]], dict[str, Any]] = lambda args: args

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def schema(self, hidden: tuple[str, ...] = ()) -> dict[str, Any]:
        """The arguments object as a JSON Schema (draft 2020-12), without ``hidden``
        fields (a transport may offer fewer: MCP has no hard delete)."""
        shown = [f for f in self.fields if f.name not in hidden]
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.schema() for f in shown},
            "additionalProperties": False,
        }
        required = [f.name for f in shown if f.required]
        if required:
            schema["required"] = required
        return schema

    def parse(
        self, arguments: Mapping[str, Any] | None, hidden: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The keyword arguments of ``call`` from a JSON arguments object (BadInput if
        it is not one this operation takes)."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise BadInput("arguments must be a JSON object")
        known = [f.name for f in self.fields if f.name not in hidden]
        unknown = sorted(str(name) for name in arguments if name not in known)
        if unknown:
            listed = ", ".join(known) or "none"
            raise BadInput(f"unknown field {unknown[0]!r} (known: {listed})")
        missing = [f.name for f in self.fields if f.required and f.name not in arguments]
        if missing:
            raise BadInput(f"{missing[0]} is required")
        parsed = {name: self.field(name).check(value) for name, value in arguments.items()}
        return self.finish(parsed)


def _bound(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


_A = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "strings": "a list of strings",
    "object": "a JSON object",
    "time": "epoch seconds or an ISO 8601 time",
}


_TYPE_NAMES = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list, "a list"))


def _json_type(value: Any) -> str:
    """How a JSON value reads in a message: "a string", "a number", "null", ..."""
    if value is None:
        return "null"
    found = (name for kind, name in _TYPE_NAMES if isinstance(value, kind))
    return next(found, "an object" if isinstance(value, dict) else type(value).__name__)


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{name} must be a number, not {_json_type(value)}")
    return value  # its range (finite, within bounds) is checked by ``limits.check``


# ---------------------------------------------------------------- the fields


def _address(args: dict[str, Any]) -> dict[str, Any]:
    """A memory is named by ``path``, or by ``key`` with an optional ``namespace``."""
    if "path" in args and "key" in args:
        raise BadInput("give either path, or key (with namespace), not both")
    if "path" in args and "namespace" in args:
        raise BadInput("namespace goes with key; a path already names its namespace")
    if "path" not in args and "key" not in args:
        raise BadInput("path is required (or key, with namespace)")
    return args


def _restore_target(args: dict[str, Any]) -> dict[str, Any]:
    if ("id" in args) == ("path" in args):
        raise BadInput("give either id (an archive id) or path (a path or glob)")
    target = str(args.pop("id")) if "id" in args else args.pop("path")
    return {"target": target, **args}


PATH = Field(
    "path",
    "string",
    "The memory's path, namespace/key (e.g. knowledge/auth/jwt); or give key and namespace.",
)
NAMESPACE = Field(
    "namespace",
    "string",
    "Namespace, with key instead of path (default 'default'); may contain '/'.",
)
KEY = Field("key", "string", "Key within namespace, instead of path.")
INCLUDE_EXPIRED = Field(
    "include_expired", "boolean", "Also memories past their TTL (hidden otherwise).", default=False
)
NAMESPACE_FILTER = Field(
    "namespace", "string", "Only this namespace, or a glob such as 'knowledge*' ('*' matches '/')."
)
AGENT_FILTER = Field("agent_id", "string", "Only memories written by this agent.")
TYPE_FILTER = Field("type", "string", "Only memories of this type (e.g. learning).")
TAGS_FILTER = Field("tags", "strings", "Only memories having every one of these tags.")
ARCHIVED = Field(
    "archived", "boolean", "Look in the archive (forgotten memories) instead.", default=False
)

STORE = Operation(
    "store",
    operations.store,
    (
        PATH,
        NAMESPACE,
        KEY,
        Field(
            "value",
            "value",
            "What to remember: text or any JSON value (at most 1 MiB as JSON).",
            required=True,
        ),
        Field(
            "ttl",
            "number",
            "Seconds until it expires (0 = never); default: the namespace's policy.",
            allowed=limits.DURATION,
        ),
        Field(
            "importance",
            "number",
            "1-10; higher is kept longer and ranked first (default 5).",
            allowed=limits.IMPORTANCE,
        ),
        Field(
            "type",
            "string",
            "Kind of memory: context (default), learning, preference, error_pattern, "
            "success_pattern, episode, observation, ...",
        ),
        Field("tags", "strings", "Tags to find it by."),
        Field("metadata", "object", "Any JSON object kept with the memory."),
        Field("agent_id", "string", "The agent writing it."),
        Field("session_id", "string", "The session writing it."),
        Field("reward", "number", "0-1: how well it went (episodes).", allowed=limits.REWARD),
        Field(
            "timestamp",
            "time",
            "When this was true, as epoch seconds or ISO 8601 (default now); an older "
            "write loses to a newer one under last-write-wins.",
        ),
    ),
    _address,
)

RECALL = Operation("recall", operations.recall, (PATH, NAMESPACE, KEY, INCLUDE_EXPIRED), _address)

LIST = Operation(
    "list",
    operations.list_memories,
    (
        Field(
            "pattern",
            "string",
            "Glob on the path, e.g. 'knowledge/auth/*' ('*' matches any characters, '/' too).",
        ),
        NAMESPACE_FILTER,
        AGENT_FILTER,
        TYPE_FILTER,
        TAGS_FILTER,
        ARCHIVED,
        Field("expired", "boolean", "Only memories past their TTL.", default=False),
        INCLUDE_EXPIRED,
        Field("sort", "string", "Order, newest first.", choices=tuple(SORTS), default="updated"),
        Field("limit", "integer", "At most this many.", allowed=WIRE_LIMIT, default=100),
    ),
)

SEARCH = Operation(
    "search",
    operations.search,
    (
        Field(
            "query",
            "string",
            "What you are looking for, in your own words (meaning counts, not only words).",
            required=True,
        ),
        Field("limit", "integer", "Number of results.", allowed=WIRE_LIMIT, default=10),
        NAMESPACE_FILTER,
        AGENT_FILTER,
        TYPE_FILTER,
        TAGS_FILTER,
        Field(
            "mode",
            "string",
            "hybrid (meaning and keywords), semantic (meaning only) or keyword.",
            choices=MODES,
            default="hybrid",
        ),
        Field(
            "min_score",
            "number",
            "Drop results scoring below this (0-1).",
            allowed=limits.SCORE,
            default=0.0,
        ),
        ARCHIVED,
        INCLUDE_EXPIRED,
    ),
)

FORGET = Operation(
    "forget",
    operations.forget,
    (
        Field(
            "path",
            "string",
            "The memory's path (namespace/key), or a glob such as 'scratch/*' for every "
            "match; or give key and namespace.",
        ),
        NAMESPACE,
        KEY,
        Field(
            "hard",
            "boolean",
            "Delete for good instead of archiving (cannot be restored).",
            default=False,
        ),
        Field("dry_run", "boolean", "Only say what would be forgotten.", default=False),
    ),
    _address,
)

RESTORE = Operation(
    "restore",
    operations.restore,
    (
        Field(
            "id",
            "integer",
            "An archive id (the id field of an archived memory).",
            allowed=ARCHIVE_ID,
        ),
        Field(
            "path",
            "string",
            "A path (brings back its latest archived version) or a glob on paths.",
        ),
        Field(
            "ttl",
            "number",
            "Seconds until it expires again (0 = never); default: the namespace's policy.",
            allowed=limits.DURATION,
        ),
    ),
    _restore_target,
)

STATS = Operation("stats", operations.stats, ())

OPERATIONS = {op.name: op for op in (STORE, RECALL, LIST, SEARCH, FORGET, RESTORE, STATS)}
