"""`memctl serve` as a process: SIGTERM and SIGKILL, its sockets, tokens and events on the
command line, MCP over HTTP with the SDK's client, and the warm path of hooks and search
(same results with the server up or down; the hook process imports next to nothing)."""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from memctl.store import open_database
from tests.server.serve_support import (
    T0,
    keyword_policies,
    make_token,
    rows,
    server_env,
    start,
)


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "memctl.db"
    open_database(db, create=True).close()
    return db, keyword_policies(tmp_path)


def memctl(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# ---------------------------------------------------------------- stopping


def test_sigterm_ends_streams_finishes_requests_and_exits_0(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    token = make_token(db, "acme")
    server = start(db, policies)
    client = server.client(token)
    assert client.post("/api/memories", json={"path": "a/b", "value": 1}).status_code == 201
    opened = threading.Event()
    got: list[bytes] = []

    def listen() -> None:
        with httpx.stream(
            "GET", f"{server.url}/api/events", headers={"Authorization": f"Bearer {token}"}
        ) as answer:
            opened.set()
            got.extend(answer.iter_raw())  # ends when the server ends the stream

    reader = threading.Thread(target=listen)
    reader.start()
    assert opened.wait(60)
    code, err = server.stop(signal.SIGTERM)
    reader.join(60)
    assert not reader.is_alive()
    assert code == 0, err
    assert "SIGTERM: stopping" in err
    assert b"event: memory:stored" in b"".join(got)
    assert not server.socket.exists()  # the socket goes with the server


def test_a_killed_server_loses_no_acknowledged_write(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    token = make_token(db, "acme")
    server = start(db, policies)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
            for i in range(400):
                if stop.is_set():
                    return
                path = f"load/w{n}-{i}"
                try:
                    answer = c.post("/api/memories", json={"path": path, "value": i})
                except httpx.HTTPError:
                    return
                if answer.status_code == 201:
                    with lock:
                        acknowledged.append(path)
                        if len(acknowledged) == 60:
                            os.kill(server.pid, signal.SIGKILL)  # mid-stream of writes

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    stop.set()
    code, _ = server.stop()
    assert code == -signal.SIGKILL
    assert len(acknowledged) >= 60
    kept = {f"{ns}/{key}" for ns, key in rows(db, "SELECT namespace, key FROM memories")}
    assert set(acknowledged) <= kept
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_the_socket_is_private_and_one_server_per_database(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    server = start(db, policies)
    try:
        mode = stat.S_IMODE(os.stat(server.socket).st_mode)
        assert stat.S_ISSOCK(os.stat(server.socket).st_mode) and mode == 0o600
        assert server.socket == Path(f"{db}.sock")
        second = memctl(server.env, "serve", "--port", "0")
        assert second.returncode == 2
        assert "already listens on" in second.stderr
        # doctor and stats say it is up
        up = json.loads(memctl(server.env, "stats", "--json").stdout)["server"]
        assert (up["up"], up["pid"], up["socket"]) == (True, server.pid, str(server.socket))
        doctor = json.loads(memctl(server.env, "doctor", "--json").stdout)
        (check,) = [c for c in doctor["checks"] if c["name"] == "warm server"]
        assert check["status"] == "ok" and f"up, pid {server.pid}" in check["detail"]
    finally:
        code, err = server.stop()
    assert code == 0, err
    down = json.loads(memctl(server.env, "stats", "--json").stdout)["server"]
    assert (down["up"], down["detail"]) == (False, "not running (no socket)")
    # a killed server leaves its socket behind; the next one replaces it
    server = start(db, policies)
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait(30)
    assert server.socket.exists()
    stale = json.loads(memctl(server.env, "doctor", "--json").stdout)
    (check,) = [c for c in stale["checks"] if c["name"] == "warm server"]
    assert check["status"] == "warn" and "stale socket" in check["detail"]
    again = start(db, policies)
    assert again.client().get("/healthz").status_code == 200
    assert again.stop()[0] == 0


def test_serve_refuses_a_missing_database_and_a_bad_port(tmp_path: Path) -> None:
    env = server_env(tmp_path / "none.db", None)
    missing = memctl(env, "serve", "--port", "0")
    assert missing.returncode == 1 and "no memctl database" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    open_database(tmp_path / "none.db", create=True).close()
    bad = memctl(env, "serve", "--port", "70000")
    assert bad.returncode == 2 and "--port 70000 is out of range" in bad.stderr


# ---------------------------------------------------------------- tokens and events commands


def test_tokens_on_the_command_line(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    env = server_env(db, policies)
    created = memctl(env, "tokens", "create", "--tenant", "acme", "--name", "ci", "--read-only")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("memctl_") and "shown only now" in created.stderr
    assert secret not in json.dumps(rows(db, "SELECT * FROM tokens"))  # only its hash
    listed = memctl(env, "tokens", "list", "--tenant", "acme", "--json")
    assert json.loads(listed.stdout)["tokens"] == [
        {"name": "ci", "tenant": "acme", "read_only": True, "created_at": listed_time(listed)}
    ]
    assert secret not in listed.stdout
    twice = memctl(env, "tokens", "create", "--tenant", "acme", "--name", "ci")
    assert twice.returncode == 2 and "a token named 'ci' exists" in twice.stderr
    other = memctl(env, "tokens", "list", "--tenant", "beta", "--json")
    assert json.loads(other.stdout)["tokens"] == []
    server = start(db, policies)
    try:
        client = server.client(secret)
        assert client.get("/api/memories").status_code == 200
        wrong_tenant = memctl(env, "tokens", "revoke", "ci", "--tenant", "beta")
        assert wrong_tenant.returncode == 1
        revoked = memctl(env, "tokens", "revoke", "ci", "--tenant", "acme")
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/api/memories").status_code == 401  # at once, no cache
    finally:
        assert server.stop()[0] == 0


def listed_time(listed: subprocess.CompletedProcess[str]) -> str:
    return str(json.loads(listed.stdout)["tokens"][0]["created_at"])


def test_events_on_the_command_line_without_a_server(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    env = {**server_env(db, policies), "MEMCTL_TENANT": "acme", "MEMCTL_NOW": str(T0)}
    for i in range(3):
        assert memctl(env, "store", f"notes/n{i}", str(i)).returncode == 0
    assert memctl({**env, "MEMCTL_TENANT": "beta"}, "store", "notes/b", "1").returncode == 0
    listed = json.loads(memctl(env, "events", "--json").stdout)
    assert [(e["event"], e["path"]) for e in listed["events"]] == [
        ("memory:stored", f"notes/n{i}") for i in range(3)
    ]
    assert listed["last_id"] == listed["events"][-1]["id"]
    first = listed["events"][0]["id"]
    after = json.loads(memctl(env, "events", "--json", "--since", str(first)).stdout)
    assert [e["id"] for e in after["events"]] == [e["id"] for e in listed["events"][1:]]
    every = json.loads(memctl(env, "events", "--json", "--all-tenants").stdout)
    assert {e["tenant"] for e in every["events"]} == {"acme", "beta"}
    table = memctl(env, "events").stdout
    assert "memory:stored" in table and "path=notes/n2" in table
    # --follow: prints what comes, stops after --max-events (no sleeping here)
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memctl",
            "events",
            "--follow",
            "--json",
            "--since",
            str(listed["last_id"]),
            "--max-events",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for i in (7, 8):
        assert memctl(env, "store", f"notes/later{i}", str(i)).returncode == 0
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["path"] for line in lines] == ["notes/later7", "notes/later8"]
    bounded = memctl(env, "events", "--follow", "--timeout", "0.2", "--since", "999999")
    assert bounded.returncode == 0 and bounded.stdout == ""


# ---------------------------------------------------------------- MCP over HTTP


async def _mcp(url: str, token: str | None, steps: Any) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(transport, mode="legacy", read_timeout_seconds=60) as client:
            return await steps(client)


def test_mcp_over_http_takes_the_tenant_from_the_token(fresh: tuple[Path, Path]) -> None:
    db, policies = fresh
    acme, beta = make_token(db, "acme"), make_token(db, "beta")
    reader = make_token(db, "acme", read_only=True)
    server = start(db, policies)
    try:

        async def store_and_recall(client: Any) -> Any:
            names = [tool.name for tool in (await client.list_tools()).tools]
            stored = await client.call_tool(
                "memory_store", {"path": "notes/mcp", "value": "via http"}
            )
            recalled = await client.call_tool("memory_recall", {"path": "notes/mcp"})
            return names, stored.structured_content, recalled.structured_content

        names, stored, recalled = anyio.run(_mcp, server.url, acme, store_and_recall)
        assert "memory_search" in names and stored["tenant"] == "acme"
        assert recalled["value"] == "via http"
        assert rows(db, "SELECT tenant FROM memories WHERE key = 'mcp'") == [("acme",)]

        async def recall_only(client: Any) -> Any:
            return await client.call_tool("memory_recall", {"path": "notes/mcp"})

        other = anyio.run(_mcp, server.url, beta, recall_only)
        assert other.is_error and other.structured_content["error"]["kind"] == "not_found"

        async def write(client: Any) -> Any:
            listed = await client.call_tool("memory_list", {})
            stored = await client.call_tool("memory_store", {"path": "notes/ro", "value": 1})
            return listed, stored

        listed, refused = anyio.run(_mcp, server.url, reader, write)
        assert not listed.is_error and listed.structured_content["total"] == 1
        assert refused.is_error and refused.structured_content["error"]["kind"] == "forbidden"
        assert rows(db, "SELECT count(*) FROM memories WHERE key = 'ro'") == [(0,)]
        plain = httpx.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert plain.status_code == 401 and plain.json()["error"]["kind"] == "unauthorized"
    finally:
        assert server.stop()[0] == 0


# ---------------------------------------------------------------- the warm path

HEAVY = ("onnxruntime", "tokenizers", "numpy", "starlette", "uvicorn", "typer", "sqlite3", "mcp")
WRAPPER = (
    "import atexit, sys\n"
    "watched = set(sys.argv[1].split(','))\n"
    "def report():\n"
    "    heavy = sorted({m.split('.')[0] for m in sys.modules} & watched)\n"
    "    sys.stderr.write('IMPORTED ' + ','.join(heavy) + '\\n')\n"
    "atexit.register(report)\n"
    "sys.argv = ['memctl'] + sys.argv[2:]\n"
    "from memctl.cli import main\n"
    "main()\n"
)


def hook(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> tuple[int, str, str, set[str]]:
    """Run ``memctl hook ...`` as Claude Code does; its exit code, stdout, stderr (without
    the report) and the heavy modules the process imported."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, ",".join(HEAVY), "hook", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = done.stderr.splitlines()
    imported = {m for m in lines[-1].removeprefix("IMPORTED ").split(",") if m}
    return done.returncode, done.stdout, "\n".join(lines[:-1]), imported


def seed(db: Path, policies: Path) -> None:
    env = {**server_env(db, policies), "MEMCTL_NOW": str(T0)}
    for path, value in (
        ("knowledge/auth/jwt", "JWT access tokens expire after 15 minutes; refresh tokens rotate"),
        ("knowledge/db/pool", "The connection pool holds 20 connections per worker"),
        ("errors/oom", "Out of memory in the importer: stream the file instead of loading it"),
    ):
        assert memctl(env, "store", path, json.dumps(value)).returncode == 0


def timeless(output: str) -> str:
    """A hook's output without how long it took."""
    return re.sub(r'"duration_ms":[0-9.]+', '"duration_ms":_', output)


SESSION = [
    (
        "pre-task",
        '{"session_id": "s-1", "prompt": "how long do access tokens last", '
        '"hook_event_name": "UserPromptSubmit"}',
    ),
    (
        "post-task",
        '{"session_id": "s-1", "hook_event_name": "Stop", "last_assistant_message": "answered"}',
    ),
    ("session-start", '{"session_id": "s-2", "source": "startup"}'),
    ("pre-task", '{"session_id": "s-2", "prompt": "importer out of memory"}'),
    ("session-end", '{"session_id": "s-1", "reason": "exit"}'),
]


def test_hooks_give_the_same_results_with_the_server_up_or_down(tmp_path: Path) -> None:
    """The same hook calls on two identical databases, one served: the same output, the
    same rows; the served one's hook processes import none of the heavy modules."""
    policies = keyword_policies(tmp_path)
    (tmp_path / "down").mkdir()
    (tmp_path / "up").mkdir()
    down, up = tmp_path / "down" / "memctl.db", tmp_path / "up" / "memctl.db"
    seed(down, policies)
    shutil.copy(down, up)
    server = start(up, policies)
    try:
        for step, (name, payload) in enumerate(SESSION):
            now = str(T0 + 60 * (step + 1))
            results = []
            for db in (down, up):
                env = {**server_env(db, policies), "MEMCTL_NOW": now}
                results.append(hook(env, name, stdin=payload))
            (code_a, out_a, err_a, heavy_a), (code_b, out_b, err_b, heavy_b) = results
            assert (code_b, timeless(out_b), err_b) == (code_a, timeless(out_a), err_a), name
            assert heavy_b == set(), (name, heavy_b)  # warm: the server did the work
            assert "sqlite3" in heavy_a, (name, heavy_a)  # the other ran in-process
            if step == 0:  # the context injected, not an empty answer twice
                assert "knowledge/auth/jwt" in out_b
    finally:
        assert server.stop()[0] == 0
    columns = (
        "id, tenant, namespace, key, value, type, session_id, created_at, updated_at, expires_at"
    )
    for table in ("memories", "archive"):
        sql = f"SELECT {columns} FROM {table} ORDER BY id"
        assert rows(up, sql) == rows(down, sql), table
    events = "SELECT id, name, tenant, created_at, count, data FROM events ORDER BY id"
    assert rows(up, events) == rows(down, events)


def test_hooks_and_search_fall_back_to_in_process(tmp_path: Path) -> None:
    policies = keyword_policies(tmp_path)
    db = tmp_path / "memctl.db"
    seed(db, policies)
    env = {**server_env(db, policies), "MEMCTL_NOW": str(T0 + 60)}
    args = ("pre-task", "--no-stdin", "--description", "connection pool", "--format", "memctl")
    _, cold, _, heavy = hook(env, *args)
    assert "sqlite3" in heavy and json.loads(cold)["hits"]
    search = ("search", "connection pool workers", "--json")
    cold_search = memctl(env, *search)
    server = start(db, policies)
    try:
        _, warm, _, heavy = hook(env, *args)
        assert warm == cold and heavy == set()
        warm_search = memctl(env, *search)
        assert (warm_search.returncode, warm_search.stdout) == (0, cold_search.stdout)
        refused = memctl(env, "search", "x", "--limit", "0")  # checked by the server
        assert refused.returncode == 2 and "memctl search: error: limit" in refused.stderr
        assert memctl({**env, "MEMCTL_WARM": "0"}, *search).stdout == cold_search.stdout
        # a server that does not answer in time (stopped, not gone): in-process, same answer
        os.kill(server.pid, signal.SIGSTOP)
        try:
            _, stalled, _, heavy = hook(env, *args)
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert stalled == cold and "sqlite3" in heavy
    finally:
        assert server.stop()[0] == 0
    killed = start(db, policies)
    os.kill(killed.pid, signal.SIGKILL)  # a stale socket: in-process again
    killed.proc.wait(30)
    assert killed.socket.exists()
    _, stale, _, heavy = hook(env, *args)
    assert stale == cold and "sqlite3" in heavy
