"""Benchmark `memctl export` and `memctl import` (docs/budgets.md: <= 60 s each at 100k).

Whole processes are timed (wall time and their own peak RSS). Sizes 10k and 100k show
whether memory grows with the database: export and import stream in batches, so the
peak RSS should stay about the same.

    .venv/bin/python scripts/bench_transfer.py                  # 10k and 100k, 3 runs
    .venv/bin/python scripts/bench_transfer.py --sizes 100000 --runs 1 --embeddings

Databases are filled by a child process (benchlib.populate through the store layer), so
this parent stays small and its RSS high-water mark cannot leak into the measurements.
``--embeddings`` also gives every memory a (random, normalised) vector labelled with the
current model id, to time export with ``--include-embeddings`` and import reusing them.
"""

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import SRC, memctl_argv, populate, run_measured

NOW = 1_800_000_000.0
MODEL = "all-MiniLM-L6-v2/384"
ARCHIVED_SHARE = 20  # every 20th memory is archived


def fill(db_path: Path, count: int, embeddings: bool) -> None:
    """Child-process body: populate, archive a share, optionally add vectors."""
    from memctl.store import open_database
    from memctl.store.moves import archive
    from memctl.store.vectors import put

    populate(db_path, count, now=NOW)
    db = open_database(db_path, create=True)
    ids = [row[0] for row in db.all("SELECT id FROM memories WHERE id % ? = 0", (ARCHIVED_SHARE,))]
    if embeddings:
        rng = random.Random(11)
        rows = db.all("SELECT id, tenant, namespace, content_hash FROM memories ORDER BY id")
        for start in range(0, len(rows), 5000):
            items = []
            for row in rows[start : start + 5000]:
                values = [rng.uniform(-1, 1) for _ in range(384)]
                norm = sum(v * v for v in values) ** 0.5
                vector = struct.pack("<384f", *(v / norm for v in values))
                items.append((row[0], row[1], row[2], row[3], vector))
            with db.write():
                put(db, items, MODEL)
    with db.write():
        archive(db, ids, "bench", NOW)
    db.close()


def counts(db_path: Path) -> dict[str, int]:
    from memctl.store import open_database

    db = open_database(db_path, create=False)
    try:
        return {
            "memories": int(db.scalar("SELECT count(*) FROM memories")),
            "archived": int(db.scalar("SELECT count(*) FROM archive")),
            "vectors": int(db.scalar("SELECT count(*) FROM vec_memories")),
        }
    finally:
        db.close()


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    code, wall, rss, err = run_measured(argv, env)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {code}: {err.strip()}")
    return wall / 1000, rss


def bench_size(size: int, runs: int, embeddings: bool, work: Path) -> list[dict[str, object]]:
    source = work / f"source-{size}.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--fill", str(source), str(size)]
        + (["--embeddings"] if embeddings else []),
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    print(f"# {size:,} memories filled in {time.perf_counter() - started:.1f} s", flush=True)
    expected = counts(source)
    env = {"MEMCTL_NOW": str(NOW)}
    extra = ["--include-embeddings"] if embeddings else []
    results = []
    for label, name in (("jsonl", "export.jsonl"), ("jsonl.gz", "export.jsonl.gz")):
        out = work / name
        walls, peaks = [], []
        for _ in range(runs):
            argv = memctl_argv("export", "--db", str(source), "-o", str(out), "-q",
                               "--include-archived", *extra)  # fmt: skip
            wall, rss = measure(argv, env)
            walls.append(wall)
            peaks.append(rss)
        results.append(row("export", label, size, walls, peaks, out.stat().st_size))
        walls, peaks = [], []
        for run in range(runs):
            target = work / f"import-{size}-{run}.db"
            wall, rss = measure(memctl_argv("import", "--db", str(target), str(out), "-q"), env)
            got = counts(target)
            if got != expected:
                raise RuntimeError(f"import of {out} gave {got}, expected {expected}")
            for leftover in target.parent.glob(target.name + "*"):
                leftover.unlink()
            walls.append(wall)
            peaks.append(rss)
        results.append(row("import", label, size, walls, peaks, out.stat().st_size))
    return results


def row(
    what: str, fmt: str, size: int, walls: list[float], peaks: list[float], file_bytes: int
) -> dict[str, object]:
    walls = sorted(walls)
    return {
        "op": what,
        "format": fmt,
        "memories": size,
        "runs": len(walls),
        "median_s": round(walls[len(walls) // 2], 2),
        "max_s": round(walls[-1], 2),
        "peak_rss_mb": round(max(peaks), 1),
        "file_mb": round(file_bytes / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--embeddings", action="store_true")
    parser.add_argument("--fill", nargs=2, metavar=("DB", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        fill(Path(args.fill[0]), int(args.fill[1]), args.embeddings)
        return
    work = Path(tempfile.mkdtemp(prefix="memctl-bench-transfer-"))
    try:
        results = []
        for size in (int(s) for s in args.sizes.split(",")):
            results += bench_size(size, args.runs, args.embeddings, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| op | format | memories | runs | median s | max s | peak RSS MB | file MB |"
          "\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for r in results:
        print(f"| {r['op']} | {r['format']} | {r['memories']:,} | {r['runs']} | {r['median_s']} "
              f"| {r['max_s']} | {r['peak_rss_mb']} | {r['file_mb']} |")  # fmt: skip
    budget = [r for r in results if r["memories"] == 100_000 and float(r["max_s"]) > 60]  # type: ignore[arg-type]
    print(json.dumps({"results": results, "embeddings": args.embeddings,
                      "within_60s_budget": not budget}))  # fmt: skip


if __name__ == "__main__":
    main()
