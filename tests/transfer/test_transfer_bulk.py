"""Import's bulk write: PostgreSQL streams rows with COPY (``Database.insert_rows``, text
format; vectors in binary, ``postgres/vectors.insert_many``). What a COPY could get
wrong: escaping of tabs, newlines, backslashes and ``\\N`` in any text field, bytes of a
compressed value, vectors not kept bit for bit, and a row the server rejects halfway
through leaving earlier batches written."""

import base64
import random
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.lifecycle import graph
from memctl.paths import ServerUrl
from memctl.store import open_database
from memctl.store.backend import backend_of
from memctl.store.postgres import vectors as pg_vectors
from tests.conftest import cli
from tests.transfer.transfer_testkit import T0, comparable, doc, fingerprint, read_export

MODEL = "all-MiniLM-L6-v2/384"
AWKWARD = 'tab\there\nnew line \\N back\\slash \\x41 \r é 😀 \'"quoted"'


def _vector(seed: int) -> bytes:
    rng = random.Random(seed)
    # not normalised, signs and tiny magnitudes included: every bit must survive
    return struct.pack(
        "<384f", *(rng.uniform(-1, 1) * 10 ** rng.randint(-30, 3) for _ in range(384))
    )


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    header = {"format": "memctl-export", "version": 1, "counts": {"total": len(records)}}
    header["embedding"] = {"model": MODEL, "dimension": 384, "included": True}
    lines = [orjson.dumps(header), *(orjson.dumps(r) for r in records)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _record(n: int, **fields: Any) -> dict[str, Any]:
    record = {
        "namespace": f"bulk/{n % 3}",
        "key": f"item-{n}",
        "value": f"memory {n} about deploys",
        "updated_at": T0 - n,
        "embedding_model": MODEL,
        "embedding": base64.b64encode(_vector(n)).decode(),
    }
    record.update(fields)
    return record


@pytest.mark.usefixtures("backend")
def test_awkward_text_and_compressed_values_arrive_as_they_were(
    db_path: Any, tmp_path: Path
) -> None:
    records = [
        _record(
            1,
            value={"text": AWKWARD, "nested": [AWKWARD, None, 1.5]},
            tags=["t\tab", "back\\slash"],
            metadata={"note": AWKWARD, "n": 2},
            agent_id="agent\\N",
            session_id="s\n1",
            type="learning",
            reward=0.125,
            importance=7.25,
        ),
        _record(2, value="x" * 5000),  # compressed when stored (bytes in a bytea column)
        _record(3, value=AWKWARD, archived_at=T0 - 10, archive_reason="deleted"),
    ]
    source = _write(tmp_path / "in.jsonl", records)
    report = doc(cli("import", str(source), "--json"))
    assert (report["created"], report["archived"], report["vectors_reused"]) == (2, 1, 3)

    out = tmp_path / "out.jsonl"
    flags = ("--include-archived", "--include-embeddings")
    assert cli("export", "-o", str(out), *flags).exit_code == 0
    _, exported = read_export(out)
    by_key = {r["key"]: r for r in exported}
    one = by_key["item-1"]
    assert one["value"] == {"text": AWKWARD, "nested": [AWKWARD, None, 1.5]}
    assert one["tags"] == ["t\tab", "back\\slash"]
    assert one["metadata"] == {"note": AWKWARD, "n": 2}
    assert (one["agent_id"], one["session_id"]) == ("agent\\N", "s\n1")
    assert (one["reward"], one["importance"], one["type"]) == (0.125, 7.25, "learning")
    assert by_key["item-2"]["value"] == "x" * 5000 and by_key["item-2"]["compressed"] is True
    assert by_key["item-3"]["value"] == AWKWARD and by_key["item-3"]["archive_reason"] == "deleted"
    for record in records:  # vectors bit for bit, active and archived
        assert by_key[record["key"]]["embedding"] == record["embedding"]

    # and a second import of the export gives the same records again
    again = tmp_path / "again.jsonl"
    fresh = tmp_path / "fresh.db"
    assert cli("import", "--db", str(fresh), str(out), "--json").exit_code == 0
    assert cli("export", "--db", str(fresh), "-o", str(again), *flags).exit_code == 0
    assert comparable(read_export(again)[1]) == comparable(exported)

    db = open_database(db_path, create=False)
    try:
        rows = db.all("SELECT id, key FROM memories UNION ALL SELECT id, key FROM archive")
        loaded = backend_of(db).vectors.load(db, [int(r[0]) for r in rows])
        assert {r[1]: loaded[int(r[0])][1] for r in rows} == {
            r["key"]: base64.b64decode(r["embedding"]) for r in records
        }
    finally:
        db.close()


@pytest.mark.postgres
def test_a_row_the_server_rejects_in_a_late_batch_leaves_nothing(
    pg_database: ServerUrl, tmp_path: Path
) -> None:
    """Validation passes every record; the server refuses one in the third batch of
    500 (a CHECK constraint stands in for any server-side refusal): exit 3, and the two
    batches already copied in are gone with it; only the failed run's log row stays."""
    assert cli("store", "keep/me", "1").exit_code == 0
    db = open_database(pg_database, create=False)
    try:
        db.execute("ALTER TABLE memories ADD CONSTRAINT no_poison CHECK (key <> 'poison')")
        before = fingerprint(pg_database)
        records = [_record(n) for n in range(1200)]
        records[1100]["key"] = "poison"
        result = cli("import", str(_write(tmp_path / "in.jsonl", records)))
        assert result.exit_code == 3, result.stderr
        assert "no_poison" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        after = fingerprint(pg_database)
        assert after["log"] == before["log"] + 1  # the failed run is logged, as every one
        assert {**after, "log": 0} == {**before, "log": 0}
        outcome = db.one("SELECT action, outcome FROM lifecycle_log ORDER BY id DESC LIMIT 1")
        assert tuple(outcome) == ("imported", "error")
        assert db.scalar("SELECT count(*) FROM memories") == 1
        assert db.scalar("SELECT count(*) FROM embeddings") == 0
        assert db.scalar("SELECT count(*) FROM keywords") == 1
    finally:
        db.close()


NOTES = {
    "deploy": "rolled the deploy back after the canary failed its health checks",
    "cache": "the cache takes five minutes to warm up after a restart",
    "auth": "a login token expires one hour after it is issued",
}


@pytest.mark.usefixtures("backend")
def test_imported_vectors_are_searched_at_once_and_put_into_the_graph_later(
    db_path: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an import's vectors wait outside the HNSW graph (a COPY, not a graph
    insert each): search scans them exactly meanwhile, so results are SQLite's from the
    moment the import commits; `memctl reindex` and the daemon's embed job put them in,
    and the results stay the same (a small import puts its own in). SQLite has nothing
    waiting. Each search runs twice on
    PostgreSQL: as a small store is searched (an exact scan of the namespace), and
    through the graph (the path of a large one) with the waiting vectors beside it."""
    from memctl.embeddings import DEFAULT_MODEL, get_embedder
    from memctl.lifecycle.values import search_text

    model = get_embedder(DEFAULT_MODEL)
    assert model is not None and model.model_id == MODEL
    on_server = isinstance(db_path, ServerUrl)

    def records(namespace: str) -> list[dict[str, Any]]:
        out = []
        for key, text in NOTES.items():
            vector = model.embed([search_text(f"{namespace}/{key}", text)])[0]
            out.append(
                _record(0, namespace=namespace, key=key, value=text, updated_at=T0)
                | {"embedding": base64.b64encode(vector).decode()}
            )
        return out

    def searched(query: str, namespace: str) -> list[tuple[str, float]]:
        found = doc(cli("search", query, "--mode", "semantic", "-n", namespace, "--json"))
        return [(hit["key"], hit["score"]) for hit in found["hits"]]

    def best(query: str, namespace: str) -> list[tuple[str, float]]:
        found = searched(query, namespace)
        if on_server:
            with monkeypatch.context() as graph_path:
                graph_path.setattr(pg_vectors, "EXACT_SCAN_ROWS", 0)
                graph_path.setattr(pg_vectors, "EXACT_SCAN_SCALE", 0)
                graph_path.setattr(pg_vectors, "_LARGE_SETS", {})
                assert searched(query, namespace) == found
        return found

    monkeypatch.setattr(graph, "AFTER_IMPORT", 0)  # as a big import leaves them
    report = doc(cli("import", str(_write(tmp_path / "a.jsonl", records("notes"))), "--json"))
    assert report["vectors_reused"] == 3
    assert report["graph_waiting"] == (3 if on_server else 0)
    stats = doc(cli("stats", "--json"))
    assert stats["embedding_backlog"]["graph_waiting"] == (3 if on_server else 0)
    out = tmp_path / "out.jsonl"  # a waiting vector is exported as it was imported
    assert cli("export", "-o", str(out), "--include-embeddings").exit_code == 0
    assert {r["key"]: r["embedding"] for r in read_export(out)[1]} == {
        r["key"]: r["embedding"] for r in records("notes")
    }
    before = best("how long is a login token valid", "notes")
    assert before[0][0] == "auth"
    assert best("why did we roll back the release", "notes")[0][0] == "deploy"

    # past WAITING_SCANNED a search that walks the graph says how many it could not scan
    # beside it; an exact scan (these few memories) reads them all and says nothing
    with monkeypatch.context() as many:
        many.setattr(pg_vectors, "WAITING_SCANNED", 2)
        assert doc(cli("search", "login token", "--json"))["unscanned_vectors"] == 0
        assert "wait for the search graph" not in cli("search", "login token").stderr
        many.setattr(pg_vectors, "EXACT_SCAN_ROWS", 0)
        many.setattr(pg_vectors, "EXACT_SCAN_SCALE", 0)
        many.setattr(pg_vectors, "_LARGE_SETS", {})
        found = doc(cli("search", "login token", "--json"))
        assert found["unscanned_vectors"] == (3 if on_server else 0)
        said = cli("search", "login token")
        assert ("3 imported vectors wait for the search graph" in said.stderr) == on_server
    assert doc(cli("search", "login token", "--json"))["unscanned_vectors"] == 0
    reindexed = doc(cli("reindex", "--json"))
    assert (reindexed["embedded"], reindexed["graphed"]) == (0, 3 if on_server else 0)
    assert best("how long is a login token valid", "notes") == before

    # a second import, put into the graph by the daemon's embed job
    report = doc(cli("import", str(_write(tmp_path / "b.jsonl", records("more"))), "--json"))
    assert report["graph_waiting"] == (3 if on_server else 0)
    assert best("warming the cache", "more")[0][0] == "cache"
    ran = cli("daemon", "--once", "--job", "embed", "--json")
    assert ran.exit_code == 0, ran.output
    assert '"graphed": 3' in ran.stdout if on_server else '"graphed": 0' in ran.stdout
    assert best("warming the cache", "more")[0][0] == "cache"

    # an import of up to graph.AFTER_IMPORT vectors puts them all into the graph itself
    monkeypatch.setattr(graph, "AFTER_IMPORT", 1000)
    report = doc(cli("import", str(_write(tmp_path / "c.jsonl", records("small"))), "--json"))
    assert report["graph_waiting"] == 0
    assert best("why did we roll back the release", "small")[0][0] == "deploy"
    if on_server:
        db = open_database(db_path, create=False)
        try:
            assert backend_of(db).vectors.waiting_count(db) == 0
            assert db.scalar("SELECT count(*) FROM embeddings WHERE vector IS NOT NULL") == 9
        finally:
            db.close()
