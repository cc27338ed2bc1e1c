"""Where a hook's output goes: this process's stdout and stderr, or, when a server runs
the hook for a warm client (``server.warm``), buffers it sends back to the client."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

_STREAMS: ContextVar[tuple[IO[str], IO[str]] | None] = ContextVar("hook_streams", default=None)


def stdout() -> IO[str]:
    streams = _STREAMS.get()
    return sys.stdout if streams is None else streams[0]


def stderr() -> IO[str]:
    streams = _STREAMS.get()
    return sys.stderr if streams is None else streams[1]


@contextmanager
def captured(out: IO[str], err: IO[str]) -> Iterator[None]:
    """Send this thread's (this context's) hook output to ``out`` and ``err``."""
    token = _STREAMS.set((out, err))
    try:
        yield
    finally:
        _STREAMS.reset(token)
