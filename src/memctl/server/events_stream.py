"""``GET /api/events``: lifecycle events as Server-Sent Events (docs/serve.md).

Events are rows of the database (``lifecycle.events``), written by whichever process
changed memories — this server, a command, a hook, the daemon — so the stream reads
the table, it is not fed in memory. One poller per server (``EventHub``) reads the
newest id every ``POLL_S`` and wakes the streams when it grew; each stream then reads
its tenant's events after the last id it sent. An event goes out as::

    id: 42
    event: memory:expired
    data: {"id": 42, "event": "memory:expired", "tenant": "acme", "time": ..., "ids": [...]}

A client resumes with ``?since=ID`` or the ``Last-Event-ID`` header (which an
EventSource sends when it reconnects, and which wins): ids only grow, so nothing is
missed or sent twice. A comment line every ``KEEPALIVE_S`` keeps proxies from closing
an idle stream; the stream ends when the server stops (SIGTERM), so shutdown never
waits on it.
"""

from collections.abc import AsyncIterator, Callable

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse

from memctl.lifecycle import events
from memctl.lifecycle.tokens import Token
from memctl.store.db import Database

POLL_S = 0.2  # one `SELECT max(id)` on the event loop: ~20 µs
KEEPALIVE_S = 15.0
RETRY_MS = 2000  # what an EventSource waits before reconnecting


class EventHub:
    """Wakes the event streams of one server when new events were recorded."""

    def __init__(self, db: Callable[[], Database], should_stop: Callable[[], bool]) -> None:
        self.db = db
        self.should_stop = should_stop
        self.newest = 0
        self.stopped = False
        self._changed = anyio.Event()

    async def run(self) -> None:
        """Poll the newest event id until stopped (a task of the server's lifespan)."""
        while not self.stopped:
            if self.should_stop():
                self.stop()
                return
            try:
                with self.db().read():
                    newest = events.last_id(self.db())
            except Exception:  # a locked or busy database: try again next tick
                newest = self.newest
            if newest != self.newest:
                self.newest = newest
                self._wake()
            await anyio.sleep(POLL_S)

    def stop(self) -> None:
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def wait_beyond(self, seen: int) -> None:
        """Until the newest event id passes ``seen``, or the server stops."""
        while self.newest <= seen and not self.stopped:
            await self._changed.wait()

    def read(self, after: int, tenant: str) -> list[events.Event]:
        with self.db().read():
            return events.read(self.db(), after, tenant)


def frame(event: events.Event) -> str:
    from memctl.output import dumps

    return f"id: {event.id}\nevent: {event.name}\ndata: {dumps(event.to_dict(), indent=False)}\n\n"


def resume_id(request: Request, since: int) -> int:
    """``Last-Event-ID`` (sent by a reconnecting EventSource) over ``?since``."""
    header = request.headers.get("last-event-id", "").strip()
    return int(header) if header.isdigit() else since


def event_stream(request: Request, hub: EventHub, token: Token, since: int) -> StreamingResponse:
    cursor = resume_id(request, since)

    async def body() -> AsyncIterator[str]:
        nonlocal cursor
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            seen = hub.newest
            page = hub.read(cursor, token.tenant)
            for event in page:
                cursor = event.id
                yield frame(event)
            if len(page) == events.PAGE:
                continue
            if hub.stopped:
                return
            with anyio.move_on_after(KEEPALIVE_S) as waited:
                await hub.wait_beyond(seen)
            if waited.cancelled_caught:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
