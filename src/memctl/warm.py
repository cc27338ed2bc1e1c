"""The warm path's socket, client side (docs/serve.md): where ``memctl serve`` of a
database listens, one request over it, and whether a server is up there.

What a hook process imports before it knows whether a server is up, so it stays small:
the standard library, orjson and memctl's path resolution, never the embedding stack,
the web framework, SQLite or typer. The protocol is HTTP/1.0 over ``AF_UNIX``: one
request, one JSON answer, the connection closed after it. ``server.warm_client`` runs
hooks through it; ``search``, ``doctor`` and ``stats`` use it directly.

The server "answers within ``ANSWER_S``" when its status line arrives in that time
(it is sent as soon as the request is read, before the work); the work itself may take
up to ``WORK_S``. No socket, a refused connection, a slow or wrong answer, a server for
another database: the caller works in-process instead, with the same results.
``MEMCTL_WARM=0`` turns the warm path off.
"""

import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

ANSWER_S = 0.05
PROBE_S = 1.0  # doctor and stats wait this long for the health answer (then: not up)
WORK_S = 60.0
SOCKET_SUFFIX = ".sock"
# sun_path holds 108 bytes on Linux (104 on macOS): a longer path is reached through
# /proc/self/fd/N/NAME, N a descriptor of its folder
MAX_SOCKET_PATH = 100


def enabled() -> bool:
    return os.environ.get("MEMCTL_WARM", "1").strip().lower() not in ("0", "false", "no", "off")


def database_key(database: object) -> str:
    """One name per database, whatever its spelling: a file's path, or for a
    PostgreSQL URL ``pg-`` and ``url_key`` (no password: the client sends the URL masked,
    the server has it whole)."""
    text = str(database)
    return f"pg-{url_key(text)}" if "://" in text else str(Path(text))


def socket_for(database: object) -> Path:
    """Where the server of ``database`` listens: next to a SQLite file
    (``memory.db.sock``), or for a PostgreSQL URL in the memctl home, named by a hash
    of the URL without its password (``<home>/sockets/pg-<hash>.sock``)."""
    text = str(database)
    if "://" in text:
        from memctl.paths import memctl_home

        return memctl_home() / "sockets" / f"pg-{url_key(text)}{SOCKET_SUFFIX}"
    return Path(text + SOCKET_SUFFIX)


def url_key(url: str) -> str:
    """16 hex digits naming a PostgreSQL URL: its password left out (the same database
    whatever the credentials), the scheme's spellings made one."""
    import hashlib  # only here: ~5 ms off every hook's start

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (parts.username + "@" if parts.username else "") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    normal = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def connect(sock: socket.socket, path: Path) -> None:
    """``sock.connect(path)``, through the folder's descriptor when the path is longer
    than a unix socket address holds."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        sock.connect(str(path))
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{folder}/{path.name}")
    finally:
        os.close(folder)


def exchange(
    path: Path, head: str, body: bytes = b"", answer_s: float = ANSWER_S
) -> tuple[bytes, bytes] | None:
    """Send one HTTP/1.0 request (``head``: request line and headers) and ``body`` to the
    socket at ``path``; (status code, body) of the answer, or None when the server is
    not there or its status line takes longer than ``answer_s``."""
    if not path.exists():
        return None
    deadline = time.monotonic() + answer_s
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(answer_s)
        connect(sock, path)
        sock.sendall(head.encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return None
            received += chunk
        status_line = received.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2:
            return None
        answer = [received.split(b"\r\n\r\n", 1)[1]]
        sock.settimeout(WORK_S)
        while chunk := sock.recv(1 << 20):
            answer.append(chunk)
        return status_line[1], b"".join(answer)
    except OSError:  # refused, reset, timed out
        return None
    finally:
        sock.close()


def ask(path: Path, route: str, document: dict[str, Any]) -> dict[str, Any] | None:
    """POST ``document`` to ``route`` on the socket at ``path``; the JSON answer, or None
    when the server is not there, slow to answer, or answers anything but 200."""
    try:
        body = orjson.dumps(document)
    except orjson.JSONEncodeError:  # e.g. an integer past 64 bits: in-process refuses it
        return None
    head = (
        f"POST {route} HTTP/1.0\r\nHost: memctl\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    answered = exchange(path, head, body)
    if answered is None or answered[0] != b"200":
        return None
    try:
        result = orjson.loads(answered[1])
    except ValueError:  # half an answer
        return None
    return result if isinstance(result, dict) else None


def probe(database: object, answer_s: float = PROBE_S) -> dict[str, Any]:
    """Whether a ``memctl serve`` of ``database`` answers on its socket, for ``doctor``
    and ``stats``: ``socket``, ``up``, ``fast`` (its health answer came within the
    hooks' ``ANSWER_S``: they would use it), ``answer_ms``, ``pid``, ``version`` and a
    one-line ``detail``."""
    path = socket_for(database)
    state: dict[str, Any] = {"socket": str(path), "up": False, "fast": False}
    if not path.exists():
        return {**state, "detail": "not running (no socket)"}
    started = time.perf_counter()
    answered = exchange(path, "GET /healthz HTTP/1.0\r\nHost: memctl\r\n", answer_s=answer_s)
    took = (time.perf_counter() - started) * 1000
    if answered is None or answered[0] != b"200":
        return {**state, "detail": "not running (a stale socket: nothing answers)"}
    try:
        health = orjson.loads(answered[1])
    except ValueError:
        return {**state, "detail": "something else answers on the socket"}
    if database_key(health.get("db")) != database_key(database):
        return {**state, "detail": f"the socket's server serves {health.get('db')}"}
    fast = took <= ANSWER_S * 1000
    speed = "" if fast else f" (over the hooks' {ANSWER_S * 1000:.0f} ms: they run in-process)"
    return {
        **state,
        "up": True,
        "fast": fast,
        "answer_ms": round(took, 1),
        "pid": health.get("pid"),
        "version": health.get("version"),
        "detail": f"up, pid {health.get('pid')}, answered in {took:.1f} ms{speed}",
    }
