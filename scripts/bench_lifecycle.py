"""Benchmark the lifecycle jobs (docs/budgets.md) and what they cost concurrent writers.

    .venv/bin/python scripts/bench_lifecycle.py [--cleanup 100000] [--decay 1000000]
        [--prune 100000] [--compact 50000] [--stores 3] [--workdir /tmp/memctl-bench-lifecycle]

Each job runs as a whole ``memctl`` process on its own copy of a prepared database:

- cleanup of N expired memories, each with a (random) 384-d vector   (budget <= 5 s)
- decay over M memories, idle 0-90 days                              (budget <= 30 s)
- prune of N archived memories past retention (all purgeable)
- compact --force of the pruned database (rebuild the vec0 table, VACUUM)
- compact --force of a database of K live memories with vectors

While each job runs, a loop starts ``memctl store`` processes one after another; their
wall times, compared with the same store on the idle database, show how long a writer
(a hook) waits for the job's write transactions. Databases are built once per size in
``--workdir`` and reused by later runs. Prints a table and a JSON summary.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib

from memctl.store import open_database, vectors

T0 = 1_800_000_000.0
DAY = 86400.0
NAMESPACES = ("coordination", "session", "swarm/shared", "learning", "errors")
POLICIES = """
version: 1
defaults: {archive_retention_days: 90, keep_archived_importance: 10}
namespaces:
  - {namespace: "coordination/*", ttl_seconds: 3600, cleanup_strategy: lazy}
  - {namespace: "session/*", ttl_seconds: 86400, cleanup_strategy: lazy}
  - {namespace: "swarm/shared/*", ttl_seconds: 86400}
"""


def log(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def add_random_vectors(path: Path, seed: int = 11) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    db = open_database(path, create=True)
    while True:
        rows = vectors.pending(db, "bench-model", 5000)
        if not rows:
            break
        block = rng.standard_normal((len(rows), 384), dtype=np.float32)
        items = [
            (r.id, r.tenant, r.namespace, r.content_hash, v.tobytes())
            for r, v in zip(rows, block, strict=True)
        ]
        with db.write():
            vectors.put(db, items, "bench-model")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def prepared(workdir: Path, name: str, build: Any) -> Path:
    path = workdir / f"{name}.db"
    if not path.exists():
        started = time.perf_counter()
        tmp = workdir / f"{name}.building.db"
        for leftover in workdir.glob(f"{name}.building.db*"):
            leftover.unlink()
        build(tmp)
        tmp.rename(path)
        log(f"built {name} in {time.perf_counter() - started:.0f} s")
    return path


def fresh_copy(base: Path, workdir: Path) -> Path:
    target = workdir / "run.db"
    for leftover in workdir.glob("run.db*"):
        leftover.unlink()
    shutil.copy(base, target)
    return target


def env_for(db: Path, policies: Path, now: float) -> dict[str, str]:
    return {"MEMCTL_DB": str(db), "MEMCTL_POLICIES": str(policies), "MEMCTL_NOW": str(now)}


def store_walls(env: dict[str, str], runs: int, tag: str) -> list[float]:
    walls = []
    for n in range(runs):
        argv = benchlib.memctl_argv("store", f"bench/{tag}-{n}", '"concurrent write"', "-q")
        code, wall, _, err = benchlib.run_measured(argv, env)
        if code != 0:
            raise RuntimeError(f"store failed: {err.strip()}")
        walls.append(wall)
    return walls


def run_job(
    args: list[str], env: dict[str, str], with_stores: bool
) -> tuple[dict[str, Any], float, float, list[float]]:
    """Run one job process, alone or while stores run back to back.
    Returns (its --json report, wall ms, CPU s of the job process, store wall ms)."""
    full_env = {**os.environ, "PYTHONPATH": str(benchlib.SRC), **env}
    walls: list[float] = []
    done = threading.Event()

    def writer() -> None:
        n = 0
        while not done.is_set():  # every store started while the job runs counts
            argv = benchlib.memctl_argv("store", f"bench/during-{n}", '"concurrent write"', "-q")
            code, wall, _, err = benchlib.run_measured(argv, env)
            if code != 0:
                raise RuntimeError(f"concurrent store failed: {err.strip()}")
            walls.append(wall)
            n += 1

    thread = threading.Thread(target=writer, daemon=True)
    out_path = Path(env["MEMCTL_DB"]).with_suffix(".out.json")
    started = time.perf_counter()
    with out_path.open("w") as out:
        proc = subprocess.Popen(
            benchlib.memctl_argv(*args, "--json"),
            env=full_env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        if with_stores:
            thread.start()
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    done.set()
    if with_stores:
        thread.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{args}: exit {code}: {err.strip()}")
    report = orjson.loads(out_path.read_bytes())
    out_path.unlink()
    return report, wall, usage.ru_utime + usage.ru_stime, walls


def summary(walls: list[float]) -> dict[str, float | int]:
    if not walls:
        return {"runs": 0}
    return {
        "runs": len(walls),
        "median_ms": round(statistics.median(walls), 1),
        "max_ms": round(max(walls), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cleanup", type=int, default=100_000)
    parser.add_argument("--decay", type=int, default=1_000_000)
    parser.add_argument("--prune", type=int, default=100_000)
    parser.add_argument("--compact", type=int, default=50_000, help="live vectors")
    parser.add_argument("--stores", type=int, default=5, help="idle-baseline store runs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/memctl-bench-lifecycle"))
    parser.add_argument("--skip", action="append", default=[], help="cleanup|decay|prune|compact")
    parser.add_argument(
        "--no-concurrent",
        dest="concurrent",
        action="store_false",
        help="skip the second run with concurrent stores",
    )
    opts = parser.parse_args()
    workdir: Path = opts.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    policies = workdir / "policies.yaml"
    policies.write_text(POLICIES)
    results: list[dict[str, Any]] = []

    def measure(
        job: str,
        rows: int,
        budget_s: float | None,
        base: Path,
        now: float,
        args: list[str],
        prepare: Any = None,
    ) -> Path:
        """The job alone on a fresh copy (its time), then with concurrent stores on
        another fresh copy (their waits). Returns a copy of the database as the job
        left it when it ran alone."""
        db = fresh_copy(base, workdir)
        env = env_for(db, policies, now)
        if prepare:
            prepare(env)
        idle = store_walls(env, opts.stores, "idle")
        report, wall, cpu, _ = run_job(args, env, False)
        row: dict[str, Any] = {
            "job": job,
            "rows": rows,
            "count": report.get("count"),
            "duration_ms": report.get("duration_ms"),
            "process_wall_ms": round(wall, 1),
            "process_cpu_s": round(cpu, 2),
            "budget_ms": None if budget_s is None else budget_s * 1000,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        kept = workdir / f"after-{len(results)}.db"
        for leftover in workdir.glob(f"{kept.name}*"):
            leftover.unlink()
        shutil.copy(db, kept)  # the job's process has exited: the file is complete
        if opts.concurrent:
            db = fresh_copy(base, workdir)
            env = env_for(db, policies, now)
            if prepare:
                prepare(env)
            busy, busy_wall, _, during = run_job(args, env, True)
            row["with_stores"] = {
                "duration_ms": busy.get("duration_ms"),
                "process_wall_ms": round(busy_wall, 1),
            }
            row["store_idle"] = summary(idle)
            row["store_during"] = summary(during)
            if during:
                row["store_extra_wait_ms"] = {
                    "median": round(statistics.median(during) - statistics.median(idle), 1),
                    "max": round(max(during) - statistics.median(idle), 1),
                }
        results.append(row)
        log(f"{job}: {orjson.dumps(row).decode()}")
        return kept

    def expired_db(path: Path) -> None:
        benchlib.populate(
            path, opts.cleanup, now=T0, namespaces=NAMESPACES, expires_at=T0 - 60, age_days=30
        )
        add_random_vectors(path)

    if opts.cleanup and ("cleanup" not in opts.skip or "prune" not in opts.skip):
        base = prepared(workdir, f"expired-{opts.cleanup}", expired_db)
        if "cleanup" not in opts.skip:
            measure("cleanup", opts.cleanup, 5, base, T0, ["cleanup", "--all-tenants"])

    def archived_db(path: Path) -> None:
        source = prepared(workdir, f"expired-{opts.prune}", expired_db)
        shutil.copy(source, path)
        env = {**os.environ, "PYTHONPATH": str(benchlib.SRC), **env_for(path, policies, T0)}
        subprocess.run(benchlib.memctl_argv("cleanup", "-q"), env=env, check=True)

    if opts.prune and "prune" not in opts.skip:
        base = prepared(workdir, f"archived-{opts.prune}", archived_db)
        pruned = measure("prune", opts.prune, None, base, T0 + 200 * DAY, ["prune"])
        if "compact" not in opts.skip:
            measure(
                "compact --force (after prune)",
                opts.prune,
                None,
                pruned,
                T0 + 200 * DAY,
                ["compact", "--force"],
            )

    def vectors_db(path: Path) -> None:
        benchlib.populate(path, opts.compact, now=T0, namespaces=NAMESPACES, age_days=30)
        add_random_vectors(path)

    if opts.compact and "compact" not in opts.skip:
        base = prepared(workdir, f"vectors-{opts.compact}", vectors_db)
        measure("compact --force (live)", opts.compact, None, base, T0, ["compact", "--force"])

    def idle_db(path: Path) -> None:
        step = 250_000
        for start in range(0, opts.decay, step):
            benchlib.populate(path, min(step, opts.decay - start), now=T0, age_days=90, start=start)
            log(f"decay db: {min(start + step, opts.decay)} rows")

    if opts.decay and "decay" not in opts.skip:
        base = prepared(workdir, f"idle-{opts.decay}", idle_db)
        measure("decay", opts.decay, 30, base, T0, ["decay", "--all-tenants"])

    for leftover in workdir.glob("run.db*"):
        leftover.unlink()
    for leftover in [*workdir.glob("run.db*"), *workdir.glob("after-*.db*")]:
        leftover.unlink()
    header = (
        f"{'job':<30} {'rows':>8} {'done':>8} {'job ms':>8} {'cpu s':>6} {'budget':>6} "
        f"{'load':>5} {'store idle':>10} {'store during med/max':>24}"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        budget = "" if row["budget_ms"] is None else f"{row['budget_ms'] / 1000:g} s"
        idle_s = row.get("store_idle", {})
        during_s = row.get("store_during", {})
        during_text = (
            f"{during_s['median_ms']:.0f}/{during_s['max_ms']:.0f} ms (n={during_s['runs']})"
            if during_s.get("runs")
            else "-"
        )
        idle_text = f"{idle_s['median_ms']:.0f} ms" if idle_s.get("runs") else "-"
        print(
            f"{row['job']:<30} {row['rows']:>8} {row['count']!s:>8} "
            f"{row['duration_ms']!s:>8} {row['process_cpu_s']:>6} {budget:>6} "
            f"{row['load_avg_1m']:>5} {idle_text:>10} {during_text:>24}"
        )
    print(orjson.dumps({"lifecycle": results}, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
