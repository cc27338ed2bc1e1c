"""Benchmark the everyday commands at the sizes of docs/budgets.md.

Builds 10k- and 100k-memory databases (embedded with the real model), then reports
median whole-process wall time and peak RSS for `store`, `recall` and a cold `search`,
and the in-process search latency with the model loaded.

    .venv/bin/python scripts/bench.py            # 10k and 100k
    .venv/bin/python scripts/bench.py --sizes 10000 --runs 5
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import embed_all, memctl_argv, populate, time_process

QUERIES = [
    "how do we rotate refresh tokens",
    "pod keeps crashing out of memory",
    "speed up the CI build cache",
    "retry with exponential backoff on timeouts",
    "which agent reviews the schema migration",
]
BUDGETS = {"store": 250, "recall": 250, "search (cold)": 1000, "search (in-process)": 50}


def in_process_search(db_path: Path, runs: int) -> dict[str, float]:
    from memctl.embeddings import get_embedder
    from memctl.search.ranking import search
    from memctl.store import open_database
    from memctl.store.memories import Filters

    db = open_database(db_path, create=False)
    model = get_embedder("all-MiniLM-L6-v2")
    filters = Filters(tenant="default", now=time.time())
    search(db, "warm up", filters, embedder=lambda: model)
    times = []
    for n in range(runs):
        started = time.perf_counter()
        search(db, QUERIES[n % len(QUERIES)], filters, embedder=lambda: model)
        times.append((time.perf_counter() - started) * 1000)
    db.close()
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


def build(db_path: Path, size: int) -> None:
    started = time.perf_counter()
    tmp = db_path.with_suffix(".building")
    populate(tmp, size, now=time.time())
    embed_all(tmp)
    tmp.rename(db_path)
    print(f"  built {size:,} memories in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def in_child(*args: str) -> str:
    """Run this script in a child so the measuring process stays small (see benchlib)."""
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    sys.stderr.write(proc.stderr)
    return proc.stdout


def bench_size(size: int, runs: int, workdir: Path) -> dict[str, dict[str, float]]:
    db_path = workdir / f"bench-{size}.db"
    if not db_path.exists():
        in_child("--build", str(db_path), str(size))
    env = {"MEMCTL_DB": str(db_path)}
    results = {
        "store": time_process(memctl_argv("store", "bench/new-key", '{"v": 1}'), runs, env),
        "recall": time_process(memctl_argv("recall", "knowledge/topic-0/item-0"), runs, env),
        "search (cold)": time_process(memctl_argv("search", QUERIES[0], "--json"), runs, env),
        "search (in-process)": orjson.loads(in_child("--in-process", str(db_path), str(runs * 4))),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the built databases here (reused on the next run)",
    )
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--in-process", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(Path(args.build[0]), int(args.build[1]))
        return
    if args.in_process:
        print(
            orjson.dumps(
                in_process_search(Path(args.in_process[0]), int(args.in_process[1]))
            ).decode()
        )
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="memctl-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MEMCTL_MODEL_DIR", str(Path.home() / ".memctl" / "models"))
    summary: dict[str, dict[str, dict[str, float]]] = {}
    print(
        f"{'size':>8} {'what':<22} {'median ms':>10} {'max ms':>8} {'peak RSS MB':>12} "
        f"{'budget ms':>10}"
    )
    for size in args.sizes:
        results = bench_size(size, args.runs, workdir)
        summary[str(size)] = results
        for what, r in results.items():
            rss = r.get("peak_rss_mb", "")
            print(
                f"{size:>8,} {what:<22} {r['median_ms']:>10} {r['max_ms']:>8} {rss!s:>12} "
                f"{BUDGETS[what]:>10}"
            )
    print(orjson.dumps(summary).decode())


if __name__ == "__main__":
    main()
