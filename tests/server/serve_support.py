"""A real ``memctl serve`` in a subprocess on a free loopback port (and its unix socket),
stopped by pid; tokens made through the library; an httpx client."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from memctl.lifecycle import tokens
from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.paths import Location, ServerUrl
from memctl.store import open_database
from tests.conftest import MODEL_DIR, SRC

T0 = 1_800_000_000.0


def keyword_policies(folder: Path) -> Path:
    """The packaged policies without the model: fast servers for every test but the
    model's own."""
    path = folder / "keyword-policies.yaml"
    path.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    return path


def server_env(
    db: Location,
    policies: Path | None,
    extra: dict[str, str] | None = None,
    folder: Path | None = None,
) -> dict[str, str]:
    """The environment of a server (and its clients) on ``db``: a file, or a PostgreSQL
    database (then give ``folder`` for its memctl home)."""
    home = (folder or (db.parent if isinstance(db, Path) else Path.cwd())) / "home"
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MEMCTL_DB": db.url if isinstance(db, ServerUrl) else str(db),
        "MEMCTL_HOME": str(home),
        "MEMCTL_MODEL_DIR": MODEL_DIR,
    }
    for name in ("MEMCTL_NOW", "MEMCTL_TENANT", "MEMCTL_POLICIES", "CLAUDE_PROJECT_DIR"):
        env.pop(name, None)
    if policies is not None:
        env["MEMCTL_POLICIES"] = str(policies)
    env.update(extra or {})
    return env


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    socket: Path
    db: Location
    env: dict[str, str]
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self._clients.append(client)
        return client

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal the server by its pid; its exit code and stderr."""
        for client in self._clients:
            client.close()
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def start(
    db: Location,
    policies: Path | None = None,
    extra: dict[str, str] | None = None,
    folder: Path | None = None,
) -> Server:
    """``memctl serve --port 0 --json`` on ``db`` (which must exist); returns once it
    listens (its first stdout line says where)."""
    env = server_env(db, policies, extra, folder)
    proc = subprocess.Popen(
        [sys.executable, "-m", "memctl", "serve", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(Path(env["MEMCTL_HOME"]).parent),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"memctl serve did not start (exit {proc.returncode}): {err}")
    where: dict[str, Any] = json.loads(line)
    assert where["pid"] == proc.pid
    return Server(proc, where["url"], Path(where["socket"]), db, env)


def make_token(db: Location, tenant: str, read_only: bool = False, name: str | None = None) -> str:
    handle = open_database(db, create=True)
    try:
        return tokens.create(handle, tenant, T0, name=name, read_only=read_only).secret
    finally:
        handle.close()


def rows(db: Location, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    handle = open_database(db, create=False)
    try:
        return [tuple(r) for r in handle.all(sql, params)]
    finally:
        handle.close()


def snapshot(db: Location) -> dict[str, Any]:
    """Every memory, archived memory, event and log row: to check that nothing changed."""
    return {
        table: rows(db, f"SELECT * FROM {table} ORDER BY rowid")
        for table in ("memories", "archive", "events", "lifecycle_log", "tokens")
    }


def read_events(
    client: httpx.Client, count: int, **kwargs: Any
) -> list[tuple[int, str, dict[str, Any]]]:
    """The first ``count`` events of a stream: (id, event name, data)."""
    found: list[tuple[int, str, dict[str, Any]]] = []
    with client.stream("GET", "/api/events", **kwargs) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        frame: dict[str, str] = {}
        for line in answer.iter_lines():
            if line == "":
                if "id" in frame:
                    found.append((int(frame["id"]), frame["event"], orjson.loads(frame["data"])))
                    if len(found) == count:
                        break
                frame = {}
                continue
            name, _, value = line.partition(": ")
            frame[name] = value
    return found
