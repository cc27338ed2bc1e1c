"""The warm path, server side (docs/serve.md): hooks and ``search`` run here for a small
client (``warm_client``) that reached the unix socket next to the database.

The client resolves its call as it would in-process (database, policies, tenant, the
clock's time: ``hooks.call``) and sends it with the hook's flags and stdin payload; the
server runs the same code the client would have run (``hooks.runner.execute``, the
operation ``search``), with its embedding model already loaded, and sends back what the
client prints: the hook's stdout, stderr and exit code, or the search's ``--json``
document or error. So results are the same either way, only faster.

The answer starts (status and headers) as soon as the request is read: that is what
the client waits at most ``memctl.warm.ANSWER_S`` for; the body follows when the work
is done.
"""

import io
import os
import sys
import threading
import traceback
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from memctl import __version__
from memctl.api.context import PoliciesFile
from memctl.errors import InternalError, MemctlError
from memctl.output import error_document
from memctl.server import wire
from memctl.server.contexts import Served, ServerContext
from memctl.server.warm_client import WARM_HOOKS
from memctl.server.wire import HttpError
from memctl.warm import database_key

if TYPE_CHECKING:
    from memctl.hooks.call import HookCall

MAX_REQUEST = 20 * 1024 * 1024  # a hook's stdin payload is at most 16 MiB


# Memories a hook stores (a prompt's task, a session's summary) wait in the embedding
# backlog, and the next pre-task's search embeds them before it ranks: 70-140 ms of ONNX
# on the hook's critical path, measured on the warm path at 100k memories (a warm
# pre-task took ~180 ms of server time with it, ~65 ms without). So after each hook the
# server embeds the backlog itself, while the client already has its answer; the next
# search then finds little or nothing to fill (results do not change: the search still
# fills whatever is left).
BACKLOG_AFTER_HOOK = 256


class Warm:
    """The warm routes of one server."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self._policies: dict[Path, PoliciesFile] = {served.policies_path: served.policies_file}
        self._backlog = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memctl-backlog")
        self._fill_queued = threading.Event()

    def policies_file(self, path: Path) -> PoliciesFile:
        """A client names its policies file (found from its project, as in-process)."""
        if path not in self._policies:
            self._policies[path] = PoliciesFile(path)
        return self._policies[path]

    def check_database(self, db: str) -> None:
        if database_key(db) != database_key(self.served.db_path):
            raise HttpError(409, "conflict", f"this server serves {self.served.db_path}, not {db}")

    # ---------------------------------------------------------------- hooks

    def run_hook(self, request: dict[str, Any]) -> dict[str, Any]:
        from memctl.hooks.call import HookCall
        from memctl.hooks.input import HookInput
        from memctl.hooks.runner import execute
        from memctl.hooks.streams import captured

        # a fill still running would be done twice (this hook's search embeds the same
        # pending memories): wait for it instead; with prompts seconds apart it is done
        self.drain()
        out, err = io.StringIO(), io.StringIO()
        hook_input = HookInput(dict(request["payload"]), dict(request["flags"]))
        # the client's database is this server's (check_database): run on the served
        # location (a client names a PostgreSQL URL without its password)
        call = replace(HookCall.from_dict(request["call"]), db_path=self.served.db_path)
        with captured(out, err):
            try:
                code = execute(request["hook"], hook_input, call, self.served.models.get)
            except Exception as exc:  # execute reports every error itself; this is a bug
                traceback.print_exc(file=sys.stderr)
                err.write(f"memctl hook {request['hook']}: error: internal error: {exc!r}\n")
                code = InternalError.exit_code
        self.embed_backlog_later(call)
        return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def embed_backlog_later(self, call: "HookCall") -> None:
        """Queue one backlog fill for ``call``'s tenant (one queued at a time is enough:
        it takes everything pending)."""
        if self._fill_queued.is_set():
            return
        self._fill_queued.set()
        self._backlog.submit(self._fill, call)

    def _fill(self, call: "HookCall") -> None:
        from memctl.search.backlog import fill

        self._fill_queued.clear()
        db = None
        healthy = True
        try:
            policies = self.policies_file(call.policies_path).load()
            model = self.served.models.get(policies.embedding_model)
            if model is None:
                return
            db = self.served.pool.take()
            fill(db, model, BACKLOG_AFTER_HOOK, None if call.all_tenants else call.tenant)
        except Exception:  # the next search fills what is left and reports its own errors
            healthy = False
            traceback.print_exc(file=sys.stderr)
        finally:
            if db is not None:
                self.served.pool.give(db, healthy)

    def drain(self) -> None:
        """Wait for the queued backlog fill (shutdown and tests)."""
        self._backlog.submit(lambda: None).result()

    # ---------------------------------------------------------------- search

    def run_search(self, request: dict[str, Any]) -> dict[str, Any]:
        from memctl.api.operations import search

        now = float(request["now"])
        ctx = ServerContext(
            str(request["tenant"]),
            self.served.db_path,
            self.policies_file(Path(str(request["policies"]))),
            self.served.models,
            self.served.pool,
            lambda: now,
            all_tenants=bool(request.get("all_tenants", False)),
        )
        try:
            args = dict(request["args"])
            return {"result": search(ctx, args.pop("query"), **args).to_dict()}
        except MemctlError as exc:
            ctx.failed()
            return error_document(exc)
        except Exception as exc:
            ctx.failed()
            traceback.print_exc(file=sys.stderr)
            return error_document(InternalError(f"internal error: {exc!r}"))
        finally:
            ctx.close()


def build_warm(warm: Warm) -> Starlette:
    async def health(request: Request) -> Response:
        return wire.json_response(
            {
                "status": "ok",
                "version": __version__,
                "db": str(warm.served.db_path),
                "pid": os.getpid(),
            }
        )

    def route(work: Any, check_hook: bool) -> Any:
        async def handle(request: Request) -> Response:
            try:
                body = wire.json_object(await wire.read_body(request, MAX_REQUEST))
                db = body.get("db") if not check_hook else (body.get("call") or {}).get("db")
                warm.check_database(str(db))
                if check_hook and body.get("hook") not in WARM_HOOKS:
                    raise HttpError(404, "not_found", f"hook {body.get('hook')!r} runs in-process")
            except HttpError as exc:
                return wire.error_response(exc)
            except MemctlError as exc:
                return wire.error_response(wire.as_http(exc))

            async def answer() -> AsyncIterator[bytes]:
                # the status line and headers are already on their way: the client
                # knows the server took the call
                result = await anyio.to_thread.run_sync(work, body)
                yield orjson.dumps(result)

            return StreamingResponse(answer(), media_type="application/json")

        return handle

    return Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            Route("/warm/hook", route(warm.run_hook, True), methods=["POST"]),
            Route("/warm/search", route(warm.run_search, False), methods=["POST"]),
        ]
    )
