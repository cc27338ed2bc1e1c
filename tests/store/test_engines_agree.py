"""One script of commands, run on a SQLite file and on a PostgreSQL database: every
command prints the same thing and exits the same way (docs/storage.md: the engines
differ in how, never in what).

The script walks a store through its life under a moving clock: conflicts of every
strategy, tenants, compression, expiry (lazy and by cleanup), delete / archive /
restore, decay, prune, promote, keyword search, stats, export and the errors. Outputs
are compared whole, after replacing the database's location (a file path here, a URL
there) and the few figures that are about the engine rather than the memories (file
size, run durations), listed in ``_ENGINE_FIELDS``.
"""

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.paths import ServerUrl
from tests.conftest import cli

pytestmark = pytest.mark.postgres

T0 = 1_800_000_000  # 2027-01-15T08:00:00Z
HOUR = 3600
DAY = 86400

# About the engine, not the memories: bytes on disk, how long a run took, stats'
# description of the database (its engine, server and schema version: each engine has
# its own migration chain, docs/migrations.md) and of the warm server's socket (next to
# a file, in the memctl home for a URL: docs/serve.md).
_ENGINE_FIELDS = {"duration_ms", "size_bytes", "database", "server"}
# Raw bm25 scores differ a little: PostgreSQL's English configuration leaves stop words
# out of a memory's length, SQLite's porter tokenizer counts them (docs/storage.md). The
# fused scores and ranks built from them are compared exactly.
BM25_TOLERANCE = 0.05

# (clock, command line). ``@`` at the start of an argument is the test's folder.
SCRIPT: list[tuple[int, list[str]]] = [
    (T0, ["store", "knowledge/auth/jwt", '{"algo": "RS256"}', "--tags", "auth,security"]),
    (T0 + 1, ["store", "knowledge/auth/jwt", '{"algo": "ES256"}', "--agent", "a2"]),
    (T0 + 2, ["store", "metrics/task/count", "5"]),
    (T0 + 3, ["store", "metrics/task/count", "3"]),
    (T0 + 4, ["store", "metrics/task/count", "three"]),  # a counter refuses text: exit 2
    (T0 + 5, ["store", "agent/1/progress", '"step1"', "--timestamp", "100"]),
    (T0 + 5, ["store", "agent/1/progress", '"step2"', "--timestamp", "200"]),
    (T0 + 5, ["store", "agent/1/progress", '"step0"', "--timestamp", "150"]),  # older: lost
    (T0 + 6, ["store", "coordination/swarm-1/lock", '"agent-3"']),  # 1 h TTL
    (T0 + 7, ["store", "notes/tmp", "1", "--ttl", "60"]),
    (T0 + 8, ["store", "notes/big", "retry with backoff " * 200, "--type", "learning"]),
    (T0 + 9, ["store", "k/secret", '"acme only"', "--tenant", "acme"]),
    (T0 + 10, ["store", "scratch/a", "1"]),
    (T0 + 11, ["store", "scratch/b", "2", "--importance", "2"]),
    (
        T0 + 12,
        [
            "store",
            "learning/jwt/rotation",
            "refresh tokens rotate on every use",
            "--type",
            "learning",
            "--importance",
            "9",
            "--tags",
            "auth",
        ],
    ),
    (T0 + 13, ["store", "bad path!", "1"]),  # exit 2
    (T0 + 14, ["store", "scratch/c", "3"]),
    # identifiers: unicode61 splits them into words; PostgreSQL's parser keeps them whole
    (T0 + 15, ["store", "infra/hosts", '"primary db.r6g.xlarge replica redis-cluster/node_3"']),
    (T0 + 20, ["recall", "knowledge/auth/jwt", "--json"]),
    (T0 + 21, ["recall", "metrics/task/count"]),
    (T0 + 22, ["recall", "agent/1/progress", "--full", "--json"]),
    (T0 + 23, ["recall", "notes/big"]),
    (T0 + 24, ["recall", "k/secret"]),  # another tenant's: exit 1
    (T0 + 25, ["recall", "k/secret", "--tenant", "acme"]),
    (T0 + 26, ["recall", "nothing/here"]),  # exit 1
    (T0 + 30, ["list", "--json"]),
    (T0 + 30, ["list", "knowledge/*", "--format", "tsv"]),
    (T0 + 30, ["list", "--sort", "importance", "--limit", "3", "--json"]),
    (T0 + 30, ["list", "--tag", "auth", "--format", "paths"]),
    (T0 + 31, ["search", "rotate tokens", "--mode", "keyword", "--json"]),
    (T0 + 31, ["search", "backoff retry", "--mode", "keyword", "--explain", "--json"]),
    (T0 + 31, ["search", "nothing matches zyzzyva", "--mode", "keyword", "--json"]),
    (T0 + 31, ["search", "r6g xlarge node_3", "--mode", "keyword", "--json"]),
    (T0 + 40, ["delete", "scratch/a"]),
    (T0 + 41, ["delete", "scratch/a"]),  # exit 1
    (T0 + 42, ["list", "--archived", "--json"]),
    (T0 + 43, ["restore", "scratch/a", "--json"]),
    (T0 + 44, ["archive", "scratch/*", "--below-importance", "5", "--json"]),
    (T0 + 45, ["restore", "scratch/b", "--ttl", "7d", "--json"]),
    (T0 + 46, ["search", "backoff", "--mode", "keyword", "--archived", "--json"]),
    # the hooks a Claude Code session runs
    (T0 + 50, ["hook", "session-start", "--session-id", "s-1", "--no-stdin"]),
    (T0 + 51, ["hook", "pre-task", "--description", "rotate tokens", "--session-id", "s-1"]),
    (
        T0 + 52,
        [
            *("hook", "post-task", "--task-id", "t-42", "--description", "fix login"),
            *("--reward", "0.9", "--session-id", "s-1", "--no-stdin", "--json"),
        ],
    ),
    (T0 + 53, ["hook", "pre-compact", "--session-id", "s-1", "--no-stdin", "--json"]),
    (T0 + 54, ["hook", "session-end", "--session-id", "s-1", "--no-stdin", "--json"]),
    (T0 + 55, ["hook", "session-start", "--session-id", "s-2", "--no-stdin"]),
    # two hours on: the lock and notes/tmp expired; lazy archiving, then cleanup
    (T0 + 2 * HOUR, ["recall", "coordination/swarm-1/lock"]),
    (T0 + 2 * HOUR, ["list", "--json"]),
    (T0 + 2 * HOUR, ["cleanup", "--dry-run", "--json"]),
    (T0 + 2 * HOUR, ["cleanup", "--json"]),
    (T0 + 2 * HOUR, ["list", "--archived", "--json"]),
    # weeks on: decay, promote, prune
    (T0 + 20 * DAY, ["recall", "learning/jwt/rotation"]),
    (T0 + 20 * DAY + 1, ["recall", "learning/jwt/rotation"]),
    (T0 + 20 * DAY + 2, ["recall", "learning/jwt/rotation"]),
    (T0 + 20 * DAY + 3, ["recall", "learning/jwt/rotation"]),
    (T0 + 20 * DAY + 4, ["recall", "learning/jwt/rotation"]),
    (T0 + 20 * DAY + 5, ["promote", "--dry-run", "--json"]),
    (T0 + 20 * DAY + 5, ["promote", "--json"]),
    (T0 + 20 * DAY + 6, ["promote", "--json"]),  # never twice
    (T0 + 40 * DAY, ["decay", "--dry-run", "--json"]),
    (T0 + 40 * DAY, ["decay", "--json"]),
    (T0 + 40 * DAY, ["decay", "--json"]),  # nothing more accrued
    (T0 + 200 * DAY, ["prune", "--dry-run", "--json"]),
    (T0 + 200 * DAY, ["prune", "--json"]),
    (T0 + 200 * DAY, ["list", "--all-tenants", "--json"]),
    (T0 + 200 * DAY, ["list", "--archived", "--all-tenants", "--json"]),
    (T0 + 200 * DAY, ["stats", "--all-tenants", "--json"]),
    (T0 + 200 * DAY, ["stats", "--snapshot", "--json"]),
    (T0 + 200 * DAY, ["stats", "--history", "--days", "400", "--json"]),
    (T0 + 200 * DAY, ["export", "--all-tenants", "--include-archived", "--include-expired"]),
    (T0 + 200 * DAY, ["export", "-o", "@/all.jsonl", "--all-tenants", "--include-archived"]),
    (
        T0 + 200 * DAY,
        ["import", "@/all.jsonl", "--all-tenants", "--on-conflict", "merge", "--json"],
    ),
    (T0 + 200 * DAY, ["import", "@/all.jsonl", "--on-conflict", "overwrite", "--dry-run"]),
    (T0 + 200 * DAY, ["import", "@/all.jsonl", "--all-tenants", "--on-conflict", "overwrite"]),
    (T0 + 200 * DAY, ["delete", "knowledge/*", "--hard", "--json"]),
    (T0 + 200 * DAY, ["list", "--json"]),
]


def _normal(text: str, location: str, folder: Path) -> Any:
    """``text`` with the database's location and the test's folder replaced, parsed as
    JSON (lines) when it is, with the engine's own figures blanked."""
    text = text.replace(location, "<db>").replace(str(folder), "<tmp>")
    try:
        return _blank(orjson.loads(text))
    except orjson.JSONDecodeError:
        pass
    lines = text.splitlines()
    try:
        return [_blank(orjson.loads(line)) for line in lines]
    except orjson.JSONDecodeError:
        return re.sub(r"\b\d+ ms\b", "<ms>", text)


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<engine>" if k in _ENGINE_FIELDS else _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


def _policies(folder: Path) -> Path:
    """The packaged policies, with keyword search only (the model is not what is
    compared here: tests/search) and a size limit for prune to enforce."""
    text = PACKAGED_POLICIES.read_text()
    text = text.replace("model: all-MiniLM-L6-v2", "model: none")
    scratch = 'namespaces:\n  - {namespace: "scratch/*", max_entries: 1}'
    text = re.sub(r"(?m)^namespaces:.*$", scratch, text)
    assert "model: none" in text and "max_entries: 1}" in text
    path = folder / "policies.yaml"
    path.write_text(text)
    return path


def _play(location: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setenv("MEMCTL_DB", location)
    monkeypatch.setenv("MEMCTL_POLICIES", str(_policies(folder)))
    seen = []
    for clock, args in SCRIPT:
        monkeypatch.setenv("MEMCTL_NOW", str(clock))
        result = cli(*(str(folder) + a[1:] if a.startswith("@") else a for a in args))
        seen.append(
            (
                args,
                result.exit_code,
                _normal(result.stdout, location, folder),
                _normal(result.stderr, location, folder),
            )
        )
    return seen


def test_every_command_gives_the_same_output_on_both_engines(
    memctl_env: Path, pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_sqlite = _play(str(memctl_env / "memctl.db"), memctl_env, monkeypatch)
    on_postgres = _play(pg_database.url, memctl_env, monkeypatch)
    # the script means something: every kind of outcome happened
    assert {code for _, code, _, _ in on_sqlite} == {0, 1, 2}
    differ = [
        line
        for sqlite_step, postgres_step in zip(on_sqlite, on_postgres, strict=True)
        for line in _differences(sqlite_step[1:], postgres_step[1:], " ".join(sqlite_step[0]))
    ]
    assert not differ, "\n".join(differ)


def _differences(sqlite: Any, postgres: Any, where: str) -> list[str]:
    """Where the two outputs differ, one line each (``where``: the command, then the
    place in its output)."""
    if isinstance(sqlite, dict) and isinstance(postgres, dict) and sqlite.keys() == postgres.keys():
        return [d for k in sqlite for d in _differences(sqlite[k], postgres[k], f"{where}.{k}")]
    sequences = isinstance(sqlite, list | tuple) and isinstance(postgres, list | tuple)
    if sequences and len(sqlite) == len(postgres):
        pairs = enumerate(zip(sqlite, postgres, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{where}[{i}]")]
    if sqlite == postgres:
        return []
    if where.endswith(".bm25") and abs(sqlite - postgres) <= BM25_TOLERANCE * abs(sqlite):
        return []
    return [f"{where}: sqlite {sqlite!r} postgresql {postgres!r}"]
