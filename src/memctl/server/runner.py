"""Running ``memctl serve``: the listeners, uvicorn, start-up and a clean stop.

uvicorn serves the one ASGI app (``app.application``) on two sockets made here: TCP on
``--host``/``--port`` (loopback by default) and a unix socket next to the database,
mode 0600 from the moment it exists (bound under umask 077). A second server for the
same database is refused while the first answers on the socket; a socket left by a
killed server is replaced.

SIGTERM or SIGINT: uvicorn stops accepting, lets the requests in flight finish (at most
``GRACE_S``), the event streams end, and the process exits 0 (uvicorn itself would
re-raise the signal after its shutdown and die by it: ``_Server`` keeps the exit
clean). An acknowledged write has committed before its answer was sent, so a killed
server loses none (SQLite's WAL with ``synchronous=NORMAL`` keeps every commit across
a process kill; a power cut may lose the last ones, as for every command).
"""

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from memctl.api.context import Models
from memctl.errors import BadInput
from memctl.paths import Location
from memctl.warm import MAX_SOCKET_PATH, socket_for

GRACE_S = 30.0


@dataclass
class Listening:
    """Where a started server listens (printed at start; tests read it)."""

    url: str
    socket: Path
    db: Location  # str() masks a PostgreSQL password
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "socket": str(self.socket), "db": str(self.db), "pid": self.pid}


def tcp_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BadInput(f"--host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=1024)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host} port {port}: {exc.strerror}") from None


@contextlib.contextmanager
def _short(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits a unix socket address."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def unix_socket(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600; refused while another server
    answers there, replacing a stale one left by a killed server."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            with _short(path) as name:
                probe.connect(name)
        except OSError:
            path.unlink()  # nobody listens: a killed server's
        else:
            raise BadInput(f"a memctl serve already listens on {path}; stop it first")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        with _short(path) as name:
            sock.bind(name)
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(1024)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    db_path: Location,
    policies_path: Path,
    host: str,
    port: int,
    *,
    announce: Callable[[str], None],
    started: Callable[[Listening], None],
) -> None:
    """Serve until SIGTERM/SIGINT (the database must exist and be up to date: the
    command opened it first)."""
    from memctl.server.app import State, application
    from memctl.server.contexts import Served
    from memctl.server.wal import WalKeeper, wal_limit_bytes
    from memctl.server.warm import Warm, build_warm

    wal_limit = wal_limit_bytes()  # a bad MEMCTL_SERVE_WAL_MB is refused before listening
    tcp = tcp_socket(host, port)
    try:
        sock_path = socket_for(db_path)
        uds = unix_socket(sock_path)
    except BaseException:
        tcp.close()
        raise
    identity = os.stat(sock_path).st_ino
    served = Served(db_path, policies_path, Models(announce))
    state = State(served)
    app = application(state, build_warm(Warm(served)))
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=int(GRACE_S),
        server_header=False,
    )
    server = _Server(config)
    state.should_stop = lambda: server.should_exit
    _prewarm(served, announce)
    keeper = WalKeeper(db_path, wal_limit) if isinstance(db_path, Path) else None
    if keeper is not None:
        keeper.start()
    started(Listening(_url(tcp), sock_path, db_path, os.getpid()))
    try:
        server.run(sockets=[tcp, uds])
    finally:
        if keeper is not None:
            keeper.stop()
        state.close()
        with contextlib.suppress(OSError):
            if os.stat(sock_path).st_ino == identity:
                sock_path.unlink()


def _prewarm(served: Any, announce: Callable[[str], None]) -> None:
    """Load the embedding model in the background, so the first hook or search after a
    start does not pay for it (a prepared model only: never export at start)."""

    def load() -> None:
        try:
            from memctl.embeddings.model_files import is_prepared

            model = served.policies_file.load().embedding_model
            if model != "none" and is_prepared(model):
                served.models.get(model)
        except Exception as exc:  # the first search will say what is wrong
            announce(f"memctl serve: the embedding model did not load: {exc}")

    threading.Thread(target=load, name="memctl-prewarm", daemon=True).start()


class _Server(uvicorn.Server):
    """uvicorn's server with a clean exit: a signal stops it gracefully, then the
    process carries on (uvicorn re-raises the signal after shutting down, which would
    kill the process with it instead of exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._stop) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting
        self.should_exit = True
        sys.stderr.write(f"memctl serve: {signal.Signals(sig).name}: stopping\n")
        sys.stderr.flush()
