"""The HTTP API of `memctl serve`, against a real server process with a real HTTP client:
tokens (401/403) and tenant isolation on every endpoint of the table, bad bodies, the
OpenAPI document, import and export, the event stream resumed by id."""

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from memctl.api.arguments import SEARCH, STORE
from memctl.server.endpoints import ENDPOINTS
from memctl.store import open_database
from tests.server.serve_support import (
    Server,
    keyword_policies,
    make_token,
    read_events,
    rows,
    snapshot,
    start,
)

SECRET = "acme-secret-7f3"  # in every acme memory: no answer to another tenant holds it
AGENT = "coder-1"


@dataclass
class World:
    server: Server
    db: Path
    tokens: dict[str, str]
    archived_id: int
    acme_event: int
    closed: list[Any] = field(default_factory=list)

    def client(self, who: str | None) -> httpx.Client:
        return self.server.client(None if who is None else self.tokens.get(who, who))


def _export_line(path: str, value: Any, agent: str | None = None) -> dict[str, Any]:
    namespace, key = path.split("/", 1)
    return {
        "namespace": namespace,
        "key": key,
        "value": value,
        "agent_id": agent,
        "created_at": "2027-01-15T08:00:00.000Z",
        "updated_at": "2027-01-15T08:00:00.000Z",
    }


def export_body(*records: dict[str, Any]) -> bytes:
    header = {"format": "memctl-export", "version": 1, "count": len(records)}
    return b"".join(orjson.dumps(item) + b"\n" for item in (header, *records))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("serve-api")
    db = folder / "memctl.db"
    open_database(db, create=True).close()
    tokens = {
        "acme": make_token(db, "acme", name="acme-rw"),
        "acme-ro": make_token(db, "acme", read_only=True, name="acme-ro"),
        "beta": make_token(db, "beta", name="beta-rw"),
        "beta-ro": make_token(db, "beta", read_only=True, name="beta-ro"),
    }
    server = start(db, keyword_policies(folder))
    acme = server.client(tokens["acme"])
    for path in ("knowledge/auth/jwt", "notes/plan", "notes/gone"):
        stored = acme.post(
            "/api/memories",
            json={"path": path, "value": f"{SECRET} {path} token rotation", "agent_id": AGENT},
        )
        assert stored.status_code == 201, stored.text
    gone = acme.delete("/api/memories/notes/gone")
    assert gone.status_code == 200, gone.text
    archived_id = rows(db, "SELECT id FROM archive WHERE key = 'gone'")[0][0]
    beta = server.client(tokens["beta"])
    assert (
        beta.post("/api/memories", json={"path": "notes/beta", "value": "beta's"}).status_code
        == 201
    )
    acme_event = rows(db, "SELECT max(id) FROM events WHERE tenant = 'acme'")[0][0]
    yield World(server, db, tokens, archived_id, acme_event)
    code, err = server.stop()
    assert code == 0, err


# ---------------------------------------------------------------- one request per endpoint


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _cases(world: World) -> dict[str, Case]:
    ndjson = {"Content-Type": "application/x-ndjson"}
    return {
        "store": Case("POST", "/api/memories", json={"path": "notes/new", "value": "v"}),
        "list": Case("GET", "/api/memories"),
        "recall": Case("GET", "/api/memories/knowledge/auth/jwt"),
        "forget": Case("DELETE", "/api/memories/notes/plan"),
        "search": Case("GET", "/api/search", {"q": "token rotation", "mode": "keyword"}),
        "archived": Case("GET", f"/api/memory/{AGENT}/archived"),
        "restore": Case("POST", f"/api/memory/{AGENT}/restore/{world.archived_id}"),
        "metrics": Case("GET", "/api/memory/metrics"),
        "export": Case("POST", f"/api/memory/export/{AGENT}"),
        "import": Case(
            "POST",
            f"/api/memory/import/{AGENT}",
            content=export_body(_export_line("imported/one", "from a file")),
            headers=ndjson,
        ),
        "prune": Case("POST", "/api/memory/prune"),
        "lifecycle": Case("POST", "/api/lifecycle/cleanup"),
        "events": Case("GET", "/api/events"),
        "health": Case("GET", "/healthz"),
    }


def send(client: httpx.Client, case: Case, **params: Any) -> httpx.Response:
    """One request; the event stream is read up to its first event (or its end)."""
    if case.url == "/api/events":
        with client.stream("GET", case.url, params={**case.params, **params}) as answer:
            if answer.status_code != 200:
                answer.read()
                return answer
            body = b""
            for chunk in answer.iter_raw():
                body += chunk
                if b"\n\nid:" in body or body.startswith(b"id:"):
                    break
            return httpx.Response(200, content=body, headers=answer.headers)
    return client.request(
        case.method,
        case.url,
        params={**case.params, **params},
        json=case.json,
        content=case.content,
        headers=case.headers,
    )


NAMES = [e.name for e in ENDPOINTS]
PROTECTED = [e.name for e in ENDPOINTS if e.access != "public"]
WRITES = [e.name for e in ENDPOINTS if e.access == "write"]
WITH_DRY_RUN = [e.name for e in ENDPOINTS if any(f.name == "dry_run" for f in e.query)]


def test_every_endpoint_of_the_table_is_tested(world: World) -> None:
    assert set(_cases(world)) == set(NAMES)


def error_of(answer: httpx.Response, status: int, kind: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"kind", "message"}, body
    if kind is not None:
        assert body["error"]["kind"] == kind, body
    return str(body["error"]["message"])


@pytest.mark.parametrize("name", PROTECTED)
@pytest.mark.parametrize("who", [None, "memctl_" + "x" * 43, "not a token"])
def test_no_or_bad_token_is_401_and_changes_nothing(
    world: World, name: str, who: str | None
) -> None:
    before = snapshot(world.db)
    answer = send(world.client(who), _cases(world)[name])
    message = error_of(answer, 401, "unauthorized")
    assert ("no token" in message) == (who is None)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(world.db) == before


@pytest.mark.parametrize("name", WRITES)
def test_a_read_only_token_writing_is_403_and_changes_nothing(world: World, name: str) -> None:
    before = snapshot(world.db)
    message = error_of(send(world.client("acme-ro"), _cases(world)[name]), 403, "forbidden")
    assert "read-only" in message
    assert snapshot(world.db) == before


@pytest.mark.parametrize("name", WITH_DRY_RUN)
def test_a_dry_run_is_a_read(world: World, name: str) -> None:
    before = snapshot(world.db)
    answer = send(world.client("acme-ro"), _cases(world)[name], dry_run="true")
    assert answer.status_code == 200, answer.text
    assert answer.json()["dry_run"] is True
    assert snapshot(world.db) == before


def _acme_rows(db: Path) -> dict[str, Any]:
    return {
        table: rows(db, f"SELECT * FROM {table} WHERE tenant = 'acme' ORDER BY rowid")
        for table in ("memories", "archive", "events")
    }


@pytest.mark.parametrize("name", PROTECTED)
def test_another_tenants_token_never_sees_nor_changes_its_memories(world: World, name: str) -> None:
    """beta's token on every endpoint: acme's memories are 404 where named, absent from
    every answer, and unchanged."""
    before = _acme_rows(world.db)
    answer = send(world.client("beta"), _cases(world)[name])
    if name in ("recall", "forget", "restore"):  # they name an acme memory
        error_of(answer, 404, "not_found")
    else:
        assert answer.status_code in (200, 201), answer.text
    assert SECRET not in answer.text
    assert _acme_rows(world.db) == before
    if name == "events":
        assert b"acme" not in answer.content and b'"tenant":"beta"' in answer.content


def test_the_owner_sees_its_own(world: World) -> None:
    acme = world.client("acme")
    recalled = acme.get("/api/memories/knowledge/auth/jwt")
    assert recalled.status_code == 200 and SECRET in recalled.json()["value"]
    listed = acme.get(f"/api/memory/{AGENT}/archived").json()
    assert [m["id"] for m in listed["memories"]] == [world.archived_id]
    assert acme.get("/api/memory/someone-else/archived").json()["memories"] == []
    searched = acme.get("/api/search", params={"q": "token rotation", "mode": "keyword"})
    found = searched.json()
    assert {h["path"] for h in found["hits"]} >= {"knowledge/auth/jwt", "notes/plan"}
    # the time spent in the server (scripts/bench_serve.py reads it)
    assert re.fullmatch(r"app;dur=\d+\.\d\d", searched.headers["server-timing"])
    metrics = acme.get("/api/memory/metrics", params={"days": 7}).json()
    assert metrics["days"] == 7 and metrics["stats"]["states"]["active"] >= 2
    exported = acme.post(f"/api/memory/export/{AGENT}")
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in exported.content.splitlines()]
    assert lines[0]["format"] == "memctl-export"
    assert {r["key"] for r in lines[1:]} == {"auth/jwt", "plan", "gone"}  # archived too


# ---------------------------------------------------------------- bad input


BAD_STORES: list[tuple[str, bytes, str, int]] = [
    ("malformed JSON", b'{"path": "a/b", "value": ', "application/json", 400),
    ("NaN", b'{"path": "a/b", "value": 1, "importance": NaN}', "application/json", 400),
    (
        "a number past double",
        b'{"path": "a/b", "value": 1, "importance": 1e400}',
        "application/json",
        400,
    ),
    ("empty body", b"", "application/json", 400),
    ("not an object", b'[{"path": "a/b"}]', "application/json", 422),
    ("unknown field", b'{"path": "a/b", "value": 1, "color": "red"}', "application/json", 422),
    ("wrong type", b'{"path": "a/b", "value": 1, "importance": "high"}', "application/json", 422),
    ("out of range", b'{"path": "a/b", "value": 1, "importance": 1e20}', "application/json", 422),
    ("tags not strings", b'{"path": "a/b", "value": 1, "tags": [1]}', "application/json", 422),
    ("ttl negative", b'{"path": "a/b", "value": 1, "ttl": -5}', "application/json", 422),
    ("no value", b'{"path": "a/b"}', "application/json", 422),
    ("bad path", b'{"path": "/a", "value": 1}', "application/json", 422),
    ("text/plain", b'{"path": "a/b", "value": 1}', "text/plain", 415),
    ("no content type", b'{"path": "a/b", "value": 1}', "", 415),
    ("10 MB", b'{"path": "a/b", "value": "' + b"x" * (10 << 20) + b'"}', "application/json", 413),
]


@pytest.mark.parametrize(
    ("why", "body", "media", "status"), BAD_STORES, ids=[b[0] for b in BAD_STORES]
)
def test_a_bad_store_body_is_refused_with_a_message_and_changes_nothing(
    world: World, why: str, body: bytes, media: str, status: int
) -> None:
    before = snapshot(world.db)
    headers = {"Content-Type": media} if media else {}
    answer = world.client("acme").post("/api/memories", content=body, headers=headers)
    assert error_of(answer, status)
    assert snapshot(world.db) == before


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "x", "limit": "abc"}, 422),
        ({"q": "x", "limit": "0"}, 422),
        ({"q": "x", "limit": "inf"}, 422),
        ({"q": "x", "min_score": "nan"}, 422),
        ({"q": "x", "mode": "psychic"}, 422),
        ({"q": "x", "colour": "red"}, 422),
        ({"q": "x", "archived": "yes"}, 422),
        ({}, 422),
    ],
)
def test_bad_query_parameters_are_422(world: World, params: dict[str, str], status: int) -> None:
    error_of(world.client("acme").get("/api/search", params=params), status, "bad_input")


def test_a_body_without_a_length_is_cut_at_the_limit(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"path": "a/b", "value": "'
        for _ in range(40):
            yield b"x" * (64 << 10)
        yield b'"}'

    before = snapshot(world.db)
    answer = world.client("acme").post(
        "/api/memories", content=chunks(), headers={"Content-Type": "application/json"}
    )
    error_of(answer, 413, "too_large")
    assert snapshot(world.db) == before


def test_unknown_paths_and_methods_are_json_errors(world: World) -> None:
    acme = world.client("acme")
    error_of(acme.get("/api/nothing"), 404)
    error_of(acme.put("/api/memories"), 405)
    error_of(acme.post("/api/lifecycle/explode"), 404, "not_found")
    error_of(acme.post("/api/memory/coder-1/restore/abc"), 404, "not_found")


def test_restoring_onto_an_active_path_is_409(world: World) -> None:
    acme = world.client("acme")
    assert (
        acme.post(
            "/api/memories", json={"path": "notes/twice", "value": 1, "agent_id": AGENT}
        ).status_code
        == 201
    )
    assert acme.delete("/api/memories/notes/twice").status_code == 200
    archived = rows(world.db, "SELECT id FROM archive WHERE key = 'twice'")[0][0]
    assert acme.post("/api/memories", json={"path": "notes/twice", "value": 2}).status_code == 201
    message = error_of(acme.post(f"/api/memory/{AGENT}/restore/{archived}"), 409, "conflict")
    assert "active memory exists" in message


# ---------------------------------------------------------------- import


def test_import_is_validated_first_and_all_or_nothing(world: World) -> None:
    beta = world.client("beta")
    good = _export_line("imported/good", "fine")
    bad = {**_export_line("imported/bad", "x"), "importance": 99}
    before = snapshot(world.db)
    answer = beta.post(
        "/api/memory/import/agent-x",
        content=export_body(good, bad),
        headers={"Content-Type": "application/x-ndjson"},
    )
    message = error_of(answer, 422, "bad_input")
    assert "importance" in message and "nothing imported" in message
    assert "/tmp" not in message  # the server's temporary file is nobody's business
    assert snapshot(world.db) == before
    other_agent = {**good, "agent_id": "someone-else"}
    answer = beta.post(
        "/api/memory/import/agent-x",
        content=export_body(other_agent),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert "is not 'agent-x'" in error_of(answer, 422)
    assert snapshot(world.db) == before


def test_import_gzip_into_the_agent_of_the_path(world: World) -> None:
    beta = world.client("beta")
    body = gzip.compress(
        export_body(_export_line("imported/zipped", "small"), _export_line("imported/two", 2))
    )
    answer = beta.post(
        "/api/memory/import/agent-z",
        content=body,
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 2
    assert rows(
        world.db,
        "SELECT tenant, agent_id FROM memories WHERE key IN ('zipped', 'two')",
    ) == [
        ("beta", "agent-z"),
        ("beta", "agent-z"),
    ]
    error_of(
        beta.post(
            "/api/memory/import/agent-z",
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "br"},
        ),
        415,
    )


# ---------------------------------------------------------------- events


def test_the_event_stream_resumes_after_an_id(world: World) -> None:
    acme = world.client("acme")
    everything = rows(
        world.db, "SELECT id, name FROM events WHERE tenant = 'acme' OR tenant IS NULL ORDER BY id"
    )
    streamed = read_events(acme, len(everything))
    assert [(i, name) for i, name, _ in streamed] == everything
    first_id, name, data = streamed[0]
    assert data["id"] == first_id and data["event"] == name and data["tenant"] == "acme"
    middle = everything[1][0]
    resumed = read_events(acme, len(everything) - 2, params={"since": middle})
    assert [i for i, _, _ in resumed] == [i for i, _ in everything[2:]]
    # an EventSource reconnecting sends Last-Event-ID, which wins over ?since
    again = read_events(acme, 1, params={"since": 0}, headers={"Last-Event-ID": str(middle)})
    assert again[0][0] == everything[2][0]


def test_the_stream_sends_events_recorded_while_it_is_open(world: World) -> None:
    import threading

    acme = world.client("acme")
    newest = rows(world.db, "SELECT max(id) FROM events")[0][0]
    got: list[tuple[int, str, dict[str, Any]]] = []
    reader = threading.Thread(
        target=lambda: got.extend(read_events(acme, 1, params={"since": newest}))
    )
    reader.start()
    stored = world.client("acme").post("/api/memories", json={"path": "notes/live", "value": "now"})
    assert stored.status_code == 201
    reader.join(timeout=60)
    assert got and got[0][1] == "memory:stored" and got[0][2]["path"] == "notes/live"


# ---------------------------------------------------------------- the OpenAPI document


def test_openapi_is_built_from_the_definitions_that_check_requests(world: World) -> None:
    document = world.client(None).get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    listed = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    for endpoint in ENDPOINTS:
        assert (endpoint.path.replace("{path:path}", "{path}"), endpoint.method) in listed
    store = document["paths"]["/api/memories"]["post"]
    assert store["requestBody"]["content"]["application/json"]["schema"] == STORE.schema()
    search = document["paths"]["/api/search"]["get"]
    names = [p["name"] for p in search["parameters"]]
    assert names == ["q" if f.name == "query" else f.name for f in SEARCH.fields]
    assert search["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert document["paths"]["/healthz"]["get"]["security"] == []


def test_health_needs_no_token(world: World) -> None:
    answer = world.client(None).get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
