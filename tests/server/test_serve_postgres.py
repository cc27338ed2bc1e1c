"""`memctl serve` over a PostgreSQL database (docs/serve.md, docs/storage.md): tokens and
tenants, events recorded by the commands and streamed in commit order under concurrent
writers, the warm socket in the memctl home (named without the password), doctor and
stats, SIGTERM. One server for the module's checks, on the session's PostgreSQL."""

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from memctl.paths import ServerUrl
from memctl.warm import socket_for
from tests.server.serve_support import (
    T0,
    keyword_policies,
    make_token,
    read_events,
    rows,
    server_env,
    start,
)

pytestmark = pytest.mark.postgres

WRITERS, STORES_EACH = 4, 25


def memctl(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_serve_tokens_events_and_the_warm_path_on_postgresql(
    pg_database: ServerUrl, tmp_path: Path
) -> None:
    policies = keyword_policies(tmp_path)
    env = server_env(pg_database, policies, folder=tmp_path)
    # tokens and events exist without the server: the commands write them
    made = memctl(env, "tokens", "create", "--tenant", "acme", "--name", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    other = make_token(pg_database, "globex")
    stored = memctl({**env, "MEMCTL_TENANT": "acme", "MEMCTL_NOW": str(T0)}, "store", "a/b", "1")
    assert stored.returncode == 0, stored.stderr
    (first,) = json.loads(memctl({**env, "MEMCTL_TENANT": "acme"}, "events", "--json").stdout)[
        "events"
    ]
    assert (first["event"], first["path"]) == ("memory:stored", "a/b")

    server = start(pg_database, policies, folder=tmp_path)
    try:
        assert server.socket == socket_for(pg_database)
        assert server.socket.parent == tmp_path / "home" / "sockets"
        assert "***" not in str(server.socket) and pg_database.url not in str(server.socket)
        acme, globex = server.client(token), server.client(other)
        recalled = acme.get("/api/memories/a/b")
        assert recalled.status_code == 200, recalled.text
        assert recalled.json()["value"] == 1
        assert globex.get("/api/memories/a/b").status_code == 404  # another tenant's
        assert server.client("memctl_bad").get("/api/memories/a/b").status_code == 401

        # concurrent writers while a stream follows: every event arrives, ids in order
        newest = first["id"]
        seen: list[tuple[int, str, dict[str, Any]]] = []
        total = WRITERS * STORES_EACH
        follower = threading.Thread(
            target=lambda: seen.extend(
                read_events(server.client(token), total, params={"since": newest})
            )
        )
        follower.start()

        def write(n: int) -> None:
            with httpx.Client(base_url=server.url, headers=acme.headers, timeout=60) as own:
                for i in range(STORES_EACH):
                    body = {"path": f"load/w{n}-{i}", "value": i}
                    assert own.post("/api/memories", json=body).status_code == 201

        writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(120)
        follower.join(120)
        ids = [i for i, _, _ in seen]
        assert len(ids) == total and ids == sorted(ids)
        kept = rows(pg_database, "SELECT id FROM events WHERE id > ? ORDER BY id", (newest,))
        assert ids == [r[0] for r in kept]

        # the warm path: a hook through the socket, and doctor and stats see the server
        hook_env = {**env, "MEMCTL_TENANT": "acme", "MEMCTL_NOW": str(T0 + 60)}
        payload = json.dumps({"prompt": "a b load", "session_id": "s1", "cwd": str(tmp_path)})
        warm = memctl(hook_env, "hook", "pre-task", stdin=payload)
        cold = memctl({**hook_env, "MEMCTL_WARM": "0"}, "hook", "pre-task", stdin=payload)
        assert warm.returncode == cold.returncode == 0, (warm.stderr, cold.stderr)
        assert warm.stdout == cold.stdout
        state = json.loads(memctl(env, "stats", "--json").stdout)["server"]
        assert (state["up"], state["pid"]) == (True, server.pid)
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert not server.socket.exists()
