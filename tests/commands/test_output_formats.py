"""--format table|json|jsonl|tsv|paths, and tables that are never cut in a pipe or file
(memctl.output). CliRunner's stdout is not a terminal, so it stands for "piped"; the
terminal case runs a real process on a pseudo-terminal."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.store import open_database
from tests.conftest import SRC, cli
from tests.terminal import on_terminal

T0 = 1_800_000_000
LONG_PATH = "knowledge/auth/rotation/refresh-token-family-revocation-policy"
LONG_VALUE = "Refresh tokens rotate on every use; " + "a reused one revokes the family. " * 6


@pytest.fixture(autouse=True)
def seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    assert cli("store", LONG_PATH, LONG_VALUE, "--string", "--importance", "7").exit_code == 0
    assert cli("store", "knowledge/odd", '{"note": "tab\\there", "n": 1}').exit_code == 0
    assert cli("store", "errors/multi", "line one\nline\ttwo\\end", "--string").exit_code == 0


def ok(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_piped_table_cuts_nothing() -> None:
    out = ok(cli("list", "--sort", "path"))
    lines = out.splitlines()
    assert lines[0].split() == ["path", "type", "imp", "updated", "expires", "value"]
    assert "…" not in out
    row = next(line for line in lines if line.startswith(LONG_PATH))
    assert row.endswith(LONG_VALUE.strip())  # the whole value, on one line
    assert "line one line two\\end" in out  # newlines and tabs flattened to spaces
    assert all(line == line.rstrip() for line in lines)


def test_piped_search_explain_keeps_its_headers() -> None:
    out = ok(cli("search", "refresh tokens", "--mode", "keyword", "--explain"))
    header = out.splitlines()[0].split()
    assert header == [
        "score",
        "similarity",
        "redundancy",
        "keyword",
        "sem#",
        "kw#",
        "path",
        "value",
    ]
    assert LONG_PATH in out and "…" not in out


def test_terminal_table_fits_the_width() -> None:
    code, out, errors = on_terminal("list", "--sort", "path", columns=80)
    assert code == 0, errors
    lines = [line for line in out.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 80
    assert "…" in out  # the long value was cut to fit
    assert LONG_VALUE.strip() not in out


def test_tsv_has_a_header_and_escapes_tabs_and_newlines() -> None:
    out = ok(cli("list", "--sort", "path", "--format", "tsv"))
    lines = out.splitlines()
    assert lines[0] == "path\ttype\timp\tupdated\texpires\tvalue"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert all(len(row) == 6 for row in rows.values())
    assert rows["errors/multi"][5] == "line one\\nline\\ttwo\\\\end"
    assert rows[LONG_PATH][5] == LONG_VALUE
    assert rows[LONG_PATH][2] == "7.0"


def test_jsonl_is_one_memory_per_line_as_in_json() -> None:
    whole = orjson.loads(ok(cli("list", "--sort", "path", "--json")))
    lines = ok(cli("list", "--sort", "path", "--format", "jsonl")).splitlines()
    assert [orjson.loads(line) for line in lines] == whole["memories"]
    assert ok(cli("list", "--sort", "path", "--format", "json")) == ok(
        cli("list", "--sort", "path", "--json")
    )


def test_paths_are_one_per_line() -> None:
    out = ok(cli("list", "--sort", "path", "--format", "paths"))
    assert out == f"errors/multi\n{LONG_PATH}\nknowledge/odd\n"
    archived = ok(cli("delete", "errors/multi"))
    assert "archived" in archived
    assert ok(cli("list", "--archived", "--format", "paths")) == "errors/multi\n"


def test_search_formats() -> None:
    query = ("search", "refresh tokens", "--mode", "keyword")
    assert ok(cli(*query, "--format", "paths")) == f"{LONG_PATH}\n"
    [hit] = [orjson.loads(line) for line in ok(cli(*query, "--format", "jsonl")).splitlines()]
    assert hit["path"] == LONG_PATH and "score" in hit and "parts" in hit
    header, row = ok(cli(*query, "--format", "tsv")).splitlines()
    assert header == "score\tpath\tvalue" and row.split("\t")[1:] == [LONG_PATH, LONG_VALUE]


def test_bad_or_conflicting_format_is_refused() -> None:
    result = cli("list", "--format", "xml")
    assert result.exit_code == 2 and "--format must be one of" in result.stderr
    result = cli("list", "--json", "--format", "tsv")
    assert result.exit_code == 2
    assert orjson.loads(result.stderr)["error"]["kind"] == "bad_input"
    assert cli("list", "--json", "--format", "json").exit_code == 0
    result = cli("stats", "--format", "paths")
    assert result.exit_code == 2


def test_stats_lists_its_history_as_tsv_and_jsonl() -> None:
    assert cli("stats", "--snapshot", "-q").exit_code == 0
    rows = [
        orjson.loads(line)
        for line in ok(cli("stats", "--history", "--format", "jsonl")).splitlines()
    ]
    assert {row["namespace"] for row in rows} == {"errors", "knowledge"}
    tsv = ok(cli("stats", "--history", "--format", "tsv")).splitlines()
    assert tsv[0].split("\t")[:3] == ["day", "namespace", "agent"] and len(tsv) == 3
    result = cli("stats", "--format", "tsv")
    assert result.exit_code == 2 and "--history" in result.stderr


def test_promote_dry_run_lists_paths(db_path: Path) -> None:
    policies = load_policies(PACKAGED_POLICIES)
    db = open_database(db_path, create=True)
    try:
        store(
            db,
            policies,
            T0 - 30 * 86400,
            StoreRequest(
                tenant="default",
                namespace="patterns",
                key="retry",
                value="retry with backoff",
                type="learning",
                importance=9,
            ),
        )
        with db.write():
            db.execute("UPDATE memories SET access_count = 20 WHERE key = 'retry'")
    finally:
        db.close()
    out = ok(cli("promote", "--dry-run", "--format", "paths"))
    assert out == "patterns/retry\n"


def test_a_reader_that_goes_away_ends_the_listing_quietly(db_path: Path) -> None:
    policies = load_policies(PACKAGED_POLICIES)
    db = open_database(db_path, create=True)
    try:
        for i in range(3000):
            request = StoreRequest(
                tenant="default", namespace="bulk", key=f"item-{i:05d}", value="x" * 40
            )
            store(db, policies, T0, request)
    finally:
        db.close()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memctl", "list", "--limit", "0", "--format", "tsv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""
