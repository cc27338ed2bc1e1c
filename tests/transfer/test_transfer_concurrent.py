"""export and sqlite snapshots while another connection keeps writing: consistent copies."""

import threading
from pathlib import Path

import orjson

from memctl.lifecycle.values import content_hash, search_text
from memctl.store import open_database
from memctl.store.memories import insert
from tests.conftest import cli
from tests.transfer.transfer_testkit import T0, ok, read_export


def _row(n: int) -> tuple[dict, str]:
    value = {"n": n, "note": "written while exporting"}
    key = f"item-{n}"
    text = search_text(key, value)
    data = orjson.dumps(value)
    fields = {
        "tenant": "default",
        "namespace": "load",
        "key": key,
        "value": data,
        "compressed": 0,
        "size": len(data),
        "created_at": T0,
        "updated_at": T0,
        "content_hash": content_hash(text),
    }
    return fields, text


def _fill(db_path: Path, count: int) -> None:
    db = open_database(db_path, create=True)
    with db.write():
        for n in range(count):
            insert(db, *_row(n))
    db.close()


def test_export_and_snapshot_are_consistent_under_writes(db_path: Path, tmp_path: Path) -> None:
    _fill(db_path, 4000)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        db = open_database(db_path, create=False)
        n = 100_000
        while not stop.is_set():
            with db.write():
                for _ in range(20):
                    insert(db, *_row(n))
                    n += 1
            written.append(n)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for run in range(3):
            out = tmp_path / f"e{run}.jsonl"
            ok(cli("export", "-o", str(out)))
            header, records = read_export(out)
            assert header["counts"]["total"] == len(records)
            assert len({r["key"] for r in records}) == len(records)
            snap = tmp_path / f"s{run}.db"
            summary = orjson.loads(ok(cli("export", "-o", str(snap), "--json")).stdout)
            copy = open_database(snap, create=False)
            assert copy.scalar("PRAGMA integrity_check") == "ok"
            rows = copy.scalar("SELECT count(*) FROM memories")
            assert rows == summary["counts"]["memories"] >= 4000
            assert copy.scalar("SELECT count(*) FROM memories_fts") == rows
            copy.close()
    finally:
        stop.set()
        thread.join()
    assert written  # the writer really ran alongside
