"""Bad import files: one clear line with the location, exit 2, and no change at all."""

import gzip
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from tests.conftest import cli
from tests.transfer.transfer_testkit import CF, T0, doc, fingerprint, ok, store

HEADER = {"format": "memctl-export", "version": 1}


def _line(n: int, **extra: object) -> bytes:
    record = {"namespace": "notes", "key": f"k{n}", "value": {"n": n, "text": "x" * 40}}
    return orjson.dumps({**record, **extra}) + b"\n"


def _export_bytes(count: int, header: dict | None = None) -> bytes:
    head = header if header is not None else {**HEADER, "counts": {"total": count}}
    return orjson.dumps(head) + b"\n" + b"".join(_line(n) for n in range(count))


@pytest.fixture
def before(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """A database that already holds something; its fingerprint before the import."""
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("notes/existing", "keep me")
    return fingerprint(db_path)


def _fails(path: Path, *expected: str, args: tuple[str, ...] = ()) -> str:
    result = cli("import", str(path), *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memctl import: error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


def test_truncated_gzip(tmp_path: Path, db_path: Path, before: object) -> None:
    packed = gzip.compress(_export_bytes(400))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    _fails(path, str(path), "gzip data is truncated or corrupt after line")
    assert fingerprint(db_path) == before


def test_bad_json_line(tmp_path: Path, db_path: Path, before: object) -> None:
    lines = _export_bytes(5).splitlines(keepends=True)
    lines[3] = b'{"namespace": "notes", "key": \n'
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(lines))
    _fails(path, f"{path}:4: not valid JSON", "nothing imported")
    assert fingerprint(db_path) == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tags": "a,b"}, "tags must be an array of strings"),
        ({"importance": "high"}, "importance must be a number, not a string"),
        ({"created_at": "yesterday"}, "created_at 'yesterday' is not an ISO 8601 time"),
        ({"access_count": -1}, "access_count must not be negative"),
        ({"key": 7}, "key must be a string, not a number"),
        ({"metadata": [1]}, "metadata must be an object, not an array"),
        ({"embedding": "AAAA"}, "embedding has 3 bytes; expected 1536"),
        ({"importance": 11}, "importance 11 is out of range (allowed: 0 to 10)"),
        # times and numbers out of range would break every later list/export
        ({"expires_at": 1e20}, "expires_at 1e+20 is out of range (allowed: 1970-01-01"),
        ({"created_at": -1e12}, "created_at -1e+12 is out of range"),
        ({"updated_at": "0001-01-01T00:00:00Z"}, "updated_at -6.21356e+10 is out of range"),
        ({"access_count": 2**63}, "access_count 9223372036854775808 is out of range"),
        ({"reward": 1.5}, "reward 1.5 is out of range (allowed: 0 to 1)"),
        (
            {"conflicts": [{"value": 1, "timestamp": 1e19}]},
            "conflicts[0].timestamp 1e+19 is out of range",
        ),
        ({"namespace": ""}, "namespace is empty"),
        ({"value": "x" * 1_048_576}, "value is 1,048,578 bytes; the limit is 1,048,576 bytes"),
        ({"key": "a\u0007b"}, "key contains control characters"),
    ],
)
def test_wrong_types(
    tmp_path: Path, db_path: Path, before: object, extra: dict, message: str
) -> None:
    data = _export_bytes(2) + _line(2, **extra)
    path = tmp_path / "types.jsonl"
    path.write_bytes(data.replace(b'"total":2', b'"total":3'))
    _fails(path, f"{path}:4: {message}")
    assert fingerprint(db_path) == before


def test_many_bad_records_are_counted_and_skip_invalid_imports_the_rest(
    tmp_path: Path, db_path: Path, before: object
) -> None:
    data = _export_bytes(3) + _line(3, tags=1) + b"not json\n" + _line(5, value=None)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data.replace(b'"total":3', b'"total":6'))
    _fails(path, f"{path}:5: tags must be", "1 more invalid")
    assert fingerprint(db_path) == before
    report = doc(cli("import", str(path), "--skip-invalid", "--json"))
    assert (report["created"], report["invalid"]) == (4, 2)  # a null value is a value
    assert [r["location"] for r in report["invalid_records"]] == [f"{path}:5", f"{path}:6"]
    result = ok(cli("import", str(path), "--skip-invalid", "--on-conflict", "skip"))
    assert "skipped invalid record" in result.stderr


def test_unknown_format_version(tmp_path: Path, db_path: Path, before: object) -> None:
    path = tmp_path / "v2.jsonl"
    path.write_bytes(_export_bytes(2, {**HEADER, "version": 2}))
    _fails(path, f"{path}:1: memctl export format version 2 is not supported")
    path.write_bytes(_export_bytes(2, {"format": "someone-else", "version": 1}))
    _fails(path, f"{path}:1: unknown export format 'someone-else'")
    path = tmp_path / "cf.json"
    path.write_bytes(orjson.dumps({"schema": "ruflo-memory-export/v9", "entries": []}))
    _fails(path, "schema 'ruflo-memory-export/v9' is not supported")
    assert fingerprint(db_path) == before


def test_header_count_catches_a_cut_at_a_line_boundary(
    tmp_path: Path, db_path: Path, before: object
) -> None:
    path = tmp_path / "short.jsonl"
    path.write_bytes(b"".join(_export_bytes(5).splitlines(keepends=True)[:4]))
    _fails(path, "announces 5 memories but holds 3; it may be truncated")
    assert fingerprint(db_path) == before


def test_sqlite_file_that_is_not_claude_flow(tmp_path: Path, db_path: Path, before: object) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.commit()
    con.close()
    _fails(path, f"{path}: a SQLite database without a memory_entries table")
    _fails(db_path, "a memctl database, not a claude-flow v3 memory.db; to move it, export it")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    _fails(corrupt, f"{corrupt}: not a readable SQLite database")
    assert fingerprint(db_path) == before


def test_bad_claude_flow_rows_name_their_row_id(
    tmp_path: Path, db_path: Path, before: object
) -> None:
    copy = tmp_path / "memory.db"
    shutil.copy(CF / "v3" / "memory.db", copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE memory_entries SET tags = 'not json' WHERE key = 'auth/jwt'")
    con.commit()
    con.close()
    _fails(copy, f"{copy}: row id entry_1795237061752_ebc3c14a26dab087: tags is not valid JSON")
    path = tmp_path / "store.json"
    path.write_bytes(orjson.dumps({"knowledge": [{"key": "a", "value": "b", "timestamp": "x"}]}))
    _fails(path, f"{path}: knowledge[0]: timestamp must be epoch milliseconds")
    assert fingerprint(db_path) == before


def test_empty_and_non_json_files(tmp_path: Path, db_path: Path, before: object) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    _fails(empty, f"{empty}: the file is empty")
    blank = tmp_path / "blank.jsonl.gz"
    blank.write_bytes(gzip.compress(b"\n\n"))
    _fails(blank, "the file is empty")
    text = tmp_path / "notes.txt"
    text.write_bytes(b"just some notes\n")
    _fails(text, "not JSON")
    utf8 = tmp_path / "utf8.jsonl"
    utf8.write_bytes(_export_bytes(1).replace(b'"total":1', b'"total":2') + b'{"key": "\xff"}\n')
    _fails(utf8, f"{utf8}:3: not valid JSON")
    _fails(tmp_path / "missing.jsonl", "no such file")
    _fails(tmp_path, "is a directory")
    assert fingerprint(db_path) == before


def test_bad_options(tmp_path: Path, db_path: Path, before: object) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(_export_bytes(1))
    _fails(path, "--on-conflict must be one of", args=("--on-conflict", "replace"))
    result = cli("import", str(path), "--json", "--from", "zip")
    assert result.exit_code == 2
    assert orjson.loads(result.stderr)["error"]["kind"] == "bad_input"
    assert fingerprint(db_path) == before


def test_counter_path_with_a_non_number(tmp_path: Path, db_path: Path, before: object) -> None:
    path = tmp_path / "counter.jsonl"
    record = orjson.dumps({"namespace": "metrics", "key": "runs", "value": "many"})
    path.write_bytes(orjson.dumps(HEADER) + b"\n" + record + b"\n")
    _fails(path, f"{path}:2: metrics/runs is a counter")
    assert fingerprint(db_path) == before


def test_a_file_that_changes_between_the_passes_is_refused(
    tmp_path: Path, db_path: Path, before: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memctl.transfer.memctl_format import JsonLinesSource
    from memctl.transfer.records import Invalid

    path = tmp_path / "moving.jsonl"
    path.write_bytes(_export_bytes(3))
    original = JsonLinesSource.entries
    calls = []

    def entries(self: JsonLinesSource):  # type: ignore[no-untyped-def]
        calls.append(1)
        yield from original(self)
        if len(calls) == 2:  # the write pass sees a record the check pass did not
            yield Invalid(f"{path}:5", "not valid JSON")

    monkeypatch.setattr(JsonLinesSource, "entries", entries)
    _fails(path, f"{path}:5: not valid JSON; the file changed during the import")
    assert fingerprint(db_path) == before
