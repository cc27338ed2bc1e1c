"""What an HTTP request becomes on its way to an operation, and how an answer goes back
(docs/serve.md): query parameters typed by the fields of ``api.arguments``, bodies read
within a size limit and a content type, errors as ``{"error": {"kind", "message"}}``
with the status that names them.

Every check here happens before the operation opens anything, so a refused request
changes nothing.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from memctl.api.arguments import Field
from memctl.errors import (
    BadInput,
    Conflict,
    Forbidden,
    InternalError,
    MemctlError,
    NotFound,
    StorageError,
)

# A JSON body is a store: a value of at most 1 MiB as JSON, and the other fields. Text
# escaped in JSON can be longer than its serialized form (\u0000 is 6 bytes), so the
# body may be twice the value's limit.
MAX_JSON_BODY = 2 * 1024 * 1024
# An import body: a memctl export (JSON Lines, gzip allowed) of at most this many bytes
# as sent. Bigger stores move with `memctl import` on the server's machine.
MAX_IMPORT_BODY = 64 * 1024 * 1024
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
_INTEGER = re.compile(r"[+-]?\d+")


class HttpError(Exception):
    """An error with its HTTP status (and the error kind of the body)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def status_of(exc: MemctlError) -> int:
    """The HTTP status of a memctl error: 404 not found, 409 conflict, 403 forbidden,
    422 bad input, 503 storage (locked, full: try again later), 500 a bug."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, BadInput):
        return 422
    if isinstance(exc, StorageError):
        return 503
    return 500


def as_http(exc: MemctlError) -> HttpError:
    return HttpError(status_of(exc), exc.kind, str(exc))


def internal(exc: Exception) -> HttpError:
    error = InternalError(f"internal error: {exc!r}")
    return HttpError(500, error.kind, str(error))


def json_response(
    document: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(error: HttpError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="memctl"'} if error.status == 401 else None
    return json_response(
        {"error": {"kind": error.kind, "message": str(error)}}, error.status, headers
    )


# ---------------------------------------------------------------- query parameters


def _typed(field: Field, name: str, values: Sequence[str]) -> Any:
    """A query parameter's text as the JSON value its field takes (then checked by the
    field like any wire value: ranges, enums)."""
    if field.kind == "strings":
        return list(values)
    if len(values) > 1:
        raise BadInput(f"{name} is given {len(values)} times; give it once")
    text = values[0]
    if field.kind == "boolean":
        if text not in ("true", "false"):
            raise BadInput(f"{name} must be true or false, not {text!r}")
        return text == "true"
    if field.kind in ("integer", "number"):
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            return float(text)  # 'inf', 'nan', '1e400': numbers out of every range
        except ValueError:
            raise BadInput(f"{name} must be a number, not {text!r}") from None
    return text  # string, time (epoch or ISO 8601, parsed by the field)


def query_arguments(
    request: Request, fields: Sequence[Field], wire: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The query string as an arguments object of ``fields`` (``wire``: field name ->
    its name in the query, e.g. ``query`` -> ``q``). An unknown or repeated parameter
    is refused."""
    by_wire = {(wire or {}).get(f.name, f.name): f for f in fields}
    out: dict[str, Any] = {}
    params = request.query_params
    for name in dict.fromkeys(params.keys()):
        field = by_wire.get(name)
        if field is None:
            known = ", ".join(by_wire) or "none"
            raise BadInput(f"unknown query parameter {name!r} (known: {known})")
        out[field.name] = _typed(field, name, params.getlist(name))
    return out


def query_names(fields: Sequence[Field], wire: Mapping[str, str] | None = None) -> list[str]:
    """The names of ``fields`` in a query string."""
    return [(wire or {}).get(f.name, f.name) for f in fields]


# ---------------------------------------------------------------- bodies


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_media_type(request: Request, allowed: Sequence[str]) -> None:
    given = media_type(request)
    if given not in allowed:
        shown = repr(given) if given else "none"
        raise HttpError(
            415,
            "unsupported_media_type",
            f"Content-Type {shown} is not accepted here; send {' or '.join(allowed)}",
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) past ``limit`` bytes: by its Content-Length before
    anything is read, or as soon as a body sent without one passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HttpError(400, "bad_request", "Content-Length is not a number") from None
        if size > limit:
            raise _too_large(limit)
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int) -> HttpError:
    return HttpError(413, "too_large", f"the body is larger than {limit:,} bytes")


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object: malformed JSON is 400 (NaN, Infinity and numbers past
    a double's range are not JSON); valid JSON of another kind is 422."""
    if not body.strip():
        raise HttpError(400, "bad_request", "the body is empty; send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else type(data).__name__
        raise BadInput(f"the body must be a JSON object, not {kind}")
    return data


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter read before the others are checked (``dry_run`` makes
    a write a read)."""
    return request.query_params.get(name) == "true"
