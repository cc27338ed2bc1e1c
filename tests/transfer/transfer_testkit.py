"""Helpers shared by the export/import tests."""

import gzip
from pathlib import Path
from typing import Any

import orjson

from memctl.paths import Location
from memctl.store import open_database
from tests.conftest import FIXTURES, cli

CF = FIXTURES / "claude-flow"
T0 = 1_800_000_000  # 2027-01-15T08:00:00Z, after every fixture timestamp


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def doc(result: Any) -> Any:
    return orjson.loads(ok(result).stdout)


def read_export(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and records of a memctl JSONL export (plain or gz)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    return lines[0], lines[1:]


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without their ids (which may differ after an import), in a stable order."""
    out = [{k: v for k, v in r.items() if k != "id"} for r in records]
    return sorted(
        out, key=lambda r: (r["tenant"], r["namespace"], r["key"], r["archived_at"] or "")
    )


def fingerprint(db_path: Location) -> Any:
    """Everything import may touch, to prove that a failed import changed nothing."""
    if isinstance(db_path, Path) and not db_path.exists():
        return None
    db = open_database(db_path, create=False)
    try:
        if db.engine == "postgresql":
            return {
                "memories": [tuple(r) for r in db.all("SELECT * FROM memories ORDER BY id")],
                "archive": [tuple(r) for r in db.all("SELECT * FROM archive ORDER BY id")],
                "keywords": db.all("SELECT memory_id, terms::text FROM keywords ORDER BY 1"),
                "vec": db.scalar("SELECT count(*) FROM embeddings"),
                "log": db.scalar("SELECT count(*) FROM lifecycle_log"),
            }
        return {
            "memories": [tuple(r) for r in db.all("SELECT * FROM memories ORDER BY id")],
            "archive": [tuple(r) for r in db.all("SELECT * FROM archive ORDER BY id")],
            "fts": [tuple(r) for r in db.all("SELECT rowid, text FROM memories_fts ORDER BY 1")],
            "vec": db.scalar("SELECT count(*) FROM vec_memories"),
            "log": db.scalar("SELECT count(*) FROM lifecycle_log"),
            "seq": [tuple(r) for r in db.all("SELECT * FROM sqlite_sequence")],
        }
    finally:
        db.close()


def store(*args: str) -> None:
    ok(cli("store", *args))
