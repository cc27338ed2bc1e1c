"""``/openapi.json``: the API's OpenAPI 3.1 document, built from ``endpoints.ENDPOINTS``
and the fields of ``api.arguments`` — the definitions the server checks requests with
— so the document cannot drift from what the server accepts."""

from typing import Any

from memctl import __version__
from memctl.server import wire
from memctl.server.endpoints import ENDPOINTS, Endpoint

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["kind", "message"],
            "properties": {
                "kind": {
                    "type": "string",
                    "description": "bad_input, bad_request, not_found, conflict, forbidden, "
                    "unauthorized, too_large, unsupported_media_type, storage, internal",
                },
                "message": {"type": "string", "description": "One line saying what is wrong."},
            },
        }
    },
}
ERRORS = {
    "400": "Malformed JSON or an empty body.",
    "401": "No token, or one that is unknown or revoked.",
    "403": "A read-only token asked for a write.",
    "404": "No such memory, archive id, agent's memory or job (another tenant's memory is "
    "404 too).",
    "409": "Restoring onto a path that has an active memory.",
    "413": "The body is over the limit.",
    "415": "The wrong Content-Type (or Content-Encoding).",
    "422": "Unknown fields or parameters, wrong types, values out of range; nothing changed.",
    "503": "The database is locked past its wait, or full; try again.",
}


def _path(endpoint: Endpoint) -> str:
    return endpoint.path.replace("{path:path}", "{path}")


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in endpoint.path_params
    ]
    names = wire.query_names(endpoint.query, endpoint.wire)
    for name, field in zip(names, endpoint.query, strict=True):
        schema = field.schema()
        description = schema.pop("description")
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": field.required,
                "description": description,
                "schema": schema,
                **({"explode": True} if field.kind == "strings" else {}),
            }
        )
    if endpoint.name == "events":
        parameters.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "Resume after this event id (what an EventSource sends).",
                "schema": {"type": "string"},
            }
        )
    ok = "201" if endpoint.created else "200"
    responses: dict[str, Any] = {
        ok: {
            "description": endpoint.answers,
            "content": {endpoint.media_type: {"schema": {"type": "object"}}}
            if endpoint.media_type == "application/json"
            else {endpoint.media_type: {"schema": {"type": "string"}}},
        }
    }
    if endpoint.created:
        responses["200"] = {"description": "An existing memory was updated, merged or kept."}
    if endpoint.access != "public":
        for status, text in ERRORS.items():
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
    operation: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": responses,
        "x-memctl-access": endpoint.access,
    }
    if endpoint.access == "public":
        operation["security"] = []
    if endpoint.body == "json" and endpoint.operation is not None:
        operation["requestBody"] = {
            "required": True,
            "description": f"At most {wire.MAX_JSON_BODY:,} bytes.",
            "content": {"application/json": {"schema": endpoint.operation.schema()}},
        }
    elif endpoint.body == "ndjson":
        operation["requestBody"] = {
            "required": True,
            "description": "A memctl export (JSON Lines; Content-Encoding: gzip allowed), "
            f"at most {wire.MAX_IMPORT_BODY:,} bytes as sent.",
            "content": {media: {"schema": {"type": "string"}} for media in wire.NDJSON_TYPES},
        }
    return operation


def openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(_path(endpoint), {})[endpoint.method.lower()] = _operation(endpoint)
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document (no token needed).",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "memctl",
            "version": __version__,
            "description": "memctl's memory over HTTP: bodies and results are the --json "
            "documents of the matching commands (docs/serve.md). MCP tools: /mcp "
            "(streamable HTTP, same bearer token).",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
