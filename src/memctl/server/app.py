"""The ASGI application of ``memctl serve`` (docs/serve.md), on Starlette.

One process serves two listeners:

- TCP (``--host``/``--port``): the JSON API of ``endpoints.ENDPOINTS`` behind bearer
  tokens, the event stream, ``/mcp`` (the MCP tools over streamable HTTP, the tenant
  from the token), ``/healthz`` and ``/openapi.json`` (no token);
- a unix socket next to the database (mode 0600, no token: the file mode is the
  boundary): the warm path of hooks and ``search`` (``warm``) and ``/healthz``.

Requests are told apart by the listener they came in on (the ASGI ``server`` of a unix
socket has no port), so the warm routes are never reachable over TCP.

Each API call: the token is checked (401, then 403 for a read-only token writing), the
query and body are read and checked (``wire``: 400/413/415/422), then the operation runs
in a worker thread on a pooled connection (``contexts``) and its ``--json`` document is
the answer. Nothing is opened or written for a refused request.
"""

import contextlib
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from memctl import __version__
from memctl.errors import Forbidden, MemctlError
from memctl.lifecycle import tokens
from memctl.server import wire
from memctl.server.calls import Call, Download
from memctl.server.contexts import Served
from memctl.server.endpoints import ENDPOINTS, Endpoint
from memctl.server.events_stream import EventHub, event_stream
from memctl.server.wire import HttpError
from memctl.store.db import Database
from memctl.store.opening import connect_to

AUTH_BUSY_TIMEOUT_MS = 1000  # the event loop's own reads never wait long for a lock
# Operations run at once in worker threads (API, /mcp and the warm path together; more
# wait their turn in the event loop; the warm path's status line is sent before). With
# anyio's default of 40, 32 clients at 100k memories took the server to 5.9 GB of
# anonymous memory (a search's working set per thread, kept by glibc's per-thread
# arenas) for no more throughput on 2 cores; with 8 it stayed at ~750 MB, flat over a
# 7-minute soak (scripts/bench_serve.py, docs/serve.md "Measured").
WORKERS = 8


@dataclass
class State:
    """What the whole server shares."""

    served: Served
    should_stop: Callable[[], bool] = lambda: False
    hub: EventHub = field(init=False)
    _loop_db: Database | None = None

    def __post_init__(self) -> None:
        self.hub = EventHub(self.loop_db, lambda: self.should_stop())

    def loop_db(self) -> Database:
        """The event loop's connection: token checks and event reads, each one short
        indexed read (WAL readers never wait for writers)."""
        if self._loop_db is None:
            db = connect_to(self.served.db_path)
            if db.engine == "sqlite":  # (a PostgreSQL session's lock_timeout is set)
                db.execute(f"PRAGMA busy_timeout = {AUTH_BUSY_TIMEOUT_MS}")
            self._loop_db = db
        return self._loop_db

    def close(self) -> None:
        if self._loop_db is not None:
            self._loop_db.close()
            self._loop_db = None
        self.served.pool.close()

    def authenticate(self, request: Request) -> tokens.Token:
        """The request's token, or 401."""
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header:
            raise HttpError(
                401,
                "unauthorized",
                "no token: send Authorization: Bearer TOKEN (memctl tokens create)",
            )
        if scheme.lower() != "bearer" or not secret.strip():
            raise HttpError(401, "unauthorized", "send the token as Authorization: Bearer TOKEN")
        try:
            with self.loop_db().read():
                token = tokens.authenticate(self.loop_db(), secret.strip())
        except MemctlError as exc:
            raise wire.as_http(exc) from None
        if token is None:
            raise HttpError(401, "unauthorized", "the token is not valid (unknown or revoked)")
        return token


def forbid_read_only(token: tokens.Token, what: str) -> None:
    if token.read_only:
        raise Forbidden(f"token {token.name} is read-only: {what} writes")


async def _upload(request: Request) -> tuple[Path, Path]:
    """An import body, saved in a private temporary folder (mode 0700): the importer
    reads it twice (validation, then writing). Gzip stays gzip; the importer reads it."""
    wire.check_media_type(request, wire.NDJSON_TYPES)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise HttpError(
            415, "unsupported_media_type", f"Content-Encoding {encoding!r}: send gzip or none"
        )
    body = await wire.read_body(request, wire.MAX_IMPORT_BODY)
    if not body:
        raise HttpError(400, "bad_request", "the body is empty; send a memctl export")
    folder = Path(tempfile.mkdtemp(prefix="memctl-import-"))
    path = folder / ("body.jsonl.gz" if encoding == "gzip" else "body.jsonl")
    await anyio.to_thread.run_sync(path.write_bytes, body)
    return folder, path


def _run(endpoint: Endpoint, state: State, call_args: dict[str, Any]) -> Any:
    """The endpoint's operation on a pooled connection (in a worker thread)."""
    assert endpoint.run is not None
    ctx = state.served.context(call_args["token"].tenant)
    try:
        return endpoint.run(Call(ctx, **call_args))
    except BaseException:
        ctx.failed()
        raise
    finally:
        ctx.close()


def _checked_query(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    args = wire.query_arguments(request, endpoint.query, endpoint.wire)
    by_name = {f.name: f for f in endpoint.query}
    return {name: by_name[name].check(value) for name, value in args.items()}


def api_handler(endpoint: Endpoint, state: State) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        upload: Path | None = None
        try:
            if endpoint.name == "health":
                return wire.json_response({"status": "ok", "version": __version__})
            token = state.authenticate(request)
            if endpoint.is_write(wire.flag(request, "dry_run")):
                forbid_read_only(token, endpoint.summary.split(" (")[0].rstrip("."))
            args = _checked_query(request, endpoint)
            if endpoint.name == "events":
                return event_stream(request, state.hub, token, int(args.get("since", 0)))
            body: Any = None
            if endpoint.body == "json":
                wire.check_media_type(request, wire.JSON_TYPES)
                body = wire.json_object(await wire.read_body(request, wire.MAX_JSON_BODY))
            elif endpoint.body == "ndjson":
                upload, path = await _upload(request)
                body = str(path)
            call_args = {
                "token": token,
                "params": dict(request.path_params),
                "args": args,
                "body": body,
            }
            result = await anyio.to_thread.run_sync(_run, endpoint, state, call_args)
        except HttpError as exc:
            return wire.error_response(exc)
        except MemctlError as exc:
            error = wire.as_http(exc)
            if upload is not None:  # the temporary file is nobody's business
                error = HttpError(error.status, error.kind, str(error).replace(str(upload), "body"))
            return wire.error_response(error)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return wire.error_response(wire.internal(exc))
        finally:
            if upload is not None:
                import shutil

                shutil.rmtree(upload, ignore_errors=True)
        if isinstance(result, Download):
            return StreamingResponse(result.chunks(), media_type=result.media_type)
        created = (
            endpoint.created and isinstance(result, dict) and result.get("action") == "created"
        )
        response = wire.json_response(result, 201 if created else 200)
        # the time spent in the server (token, checks, the operation, the JSON), for
        # clients and scripts/bench_serve.py to tell it from the network and the client
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response

    return handle


def build_api(state: State, mcp: ASGIApp | None, lifespan: Any) -> Starlette:
    from memctl.server.openapi import openapi

    routes = [
        Route(e.path, api_handler(e, state), methods=[e.method], name=e.name) for e in ENDPOINTS
    ]
    schema = openapi()

    async def openapi_json(request: Request) -> Response:
        return wire.json_response(schema)

    routes.append(Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"))
    app = Starlette(routes=routes, lifespan=lifespan)

    async def not_found(request: Request, exc: Exception) -> Response:
        return wire.error_response(
            HttpError(404, "not_found", f"no such endpoint: {request.method} {request.url.path}")
        )

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return wire.error_response(
            HttpError(
                405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"
            )
        )

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_allowed)
    return app


def mcp_app(state: State, manager: Any) -> ASGIApp:
    """``/mcp``: the bearer token first (401 as JSON), then the SDK's streamable HTTP
    transport; the tools read the token from the request's state."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            token = state.authenticate(request)
        except HttpError as exc:
            await wire.error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["memctl_token"] = token
        await manager.handle_request(scope, receive, send)

    return app


def mcp_server(state: State) -> Any:
    """The MCP tool set of ``memctl mcp`` (``server.mcp_tools``), each call in the
    token's tenant; a read-only token may call the tools that only read."""
    from memctl.server.mcp_tools import Tool, build_server

    def context_for(request: Any) -> Any:
        return state.served.context(request.state.memctl_token.tenant)

    def authorize(tool: Tool, arguments: dict[str, Any], request: Any) -> None:
        token = request.state.memctl_token
        reads = tool.read_only or tool.name == "memory_recall" or arguments.get("dry_run")
        if not reads:
            forbid_read_only(token, tool.name)

    return build_server(context_for, authorize)


def application(state: State, warm: ASGIApp) -> ASGIApp:
    """The app of both listeners: a unix-socket request goes to the warm routes, a TCP
    one to the API (``/mcp`` to the MCP transport); the lifespan runs the API's."""
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    manager = StreamableHTTPSessionManager(app=mcp_server(state), stateless=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKERS
        async with manager.run(), anyio.create_task_group() as group:
            group.start_soon(state.hub.run)
            try:
                yield
            finally:
                state.hub.stop()
                group.cancel_scope.cancel()

    mcp = mcp_app(state, manager)
    api = build_api(state, mcp, lifespan)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await api(scope, receive, send)
            return
        server = scope.get("server")
        if server is not None and server[1] is None:  # a unix socket: no port
            await warm(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/mcp" or path.startswith("/mcp/"):
            await mcp(scope, receive, send)
            return
        await api(scope, receive, send)

    return app
