"""Benchmark schema migrations on a database with data (docs/migrations.md).

How long does an upgrade hold the write lock, and so how long does a hook or command
that opens the database meanwhile wait? Timed as whole processes:

- ``memctl migrate down --to 2``: steps 4 and 3 down (vec0 rebuilt with float vectors,
  the embeddings table dropped), after a snapshot (VACUUM INTO);
- ``memctl migrate up``: steps 3 and 4 (floats moved out, vec0 rebuilt twice), after a
  snapshot, with a ``memctl store`` that read the old version just before: it waits for
  the lock, then stores. Both are paused at known points (``MEMCTL_TEST_MIGRATE_PAUSE``)
  so the store really arrives while the migration holds the lock; times are from the
  moment both are let go.

    .venv/bin/python scripts/bench_migrate.py                    # 100k memories, 3 rounds
    .venv/bin/python scripts/bench_migrate.py --size 10000 --runs 1

Every memory has a (random) vector; every 20th is archived (scripts/bench_transfer.py).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import SRC, memctl_argv, run_measured

PAUSE_ENV = "MEMCTL_TEST_MIGRATE_PAUSE"


def _paused(argv: list[str], env: dict[str, str], point: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONPATH": str(SRC), **env, PAUSE_ENV: point},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if line != f"memctl: paused at {point}\n":
        raise RuntimeError(f"{argv}: {line}{proc.communicate()[1]}")
    return proc


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()


def _round(db_path: Path) -> dict[str, float]:
    env = {"MEMCTL_DB": str(db_path)}
    code, down_ms, rss, err = run_measured(memctl_argv("migrate", "down", "--to", "2"), env)
    if code:
        raise RuntimeError(f"migrate down: exit {code}: {err}")
    for snapshot in db_path.parent.glob("*.bak"):
        snapshot.unlink()

    migrator = _paused(memctl_argv("migrate", "up"), env, "locked")
    store = _paused(memctl_argv("store", "bench/concurrent", "1", "-q"), env, "open")
    started = time.perf_counter()
    _go(store)  # it goes for the lock the migrator holds
    _go(migrator)
    ends: dict[str, float] = {}
    for name, proc in (("up_ms", migrator), ("concurrent_store_ms", store)):
        err = proc.communicate()[1]
        ends[name] = (time.perf_counter() - started) * 1000
        if proc.returncode:
            raise RuntimeError(f"{name}: exit {proc.returncode}: {err}")
    snapshots = list(db_path.parent.glob("*.bak"))
    size = sum(p.stat().st_size for p in snapshots) / 1e6
    for snapshot in snapshots:
        snapshot.unlink()
    return {"down_ms": down_ms, **ends, "down_peak_rss_mb": rss, "snapshot_mb": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="memctl-bench-migrate-"))
    try:
        db_path = folder / "memctl.db"
        code = (  # filled by a child so this parent stays small (see bench_transfer.py)
            f"import sys; sys.path[:0] = [{str(SRC)!r}, {str(Path(__file__).parent)!r}]\n"
            "from pathlib import Path; from bench_transfer import fill\n"
            f"fill(Path({str(db_path)!r}), {args.size}, True)"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        rounds = [_round(db_path) for _ in range(args.runs)]
        result: dict[str, float] = {
            "size": args.size,
            "runs": args.runs,
            "file_mb": round(db_path.stat().st_size / 1e6, 1),
        }
        for name in rounds[0]:
            result[f"{name}_median"] = round(statistics.median(r[name] for r in rounds), 1)
            result[f"{name}_max"] = round(max(r[name] for r in rounds), 1)
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
