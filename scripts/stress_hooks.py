"""Stress: many hook processes writing at once while session ends and a daemon run join
in. Every write must land and no process may fail (docs/budgets.md: 16 processes
writing at once, no error, no lost write).

    .venv/bin/python scripts/stress_hooks.py [--workers 16] [--writes 200]
        [--singles 16] [--sessions 4] [--workdir /tmp/memctl-stress-hooks]
        [--db postgresql://...]   # an empty (or fresh) PostgreSQL database instead

Each worker is one Python process that calls the memctl CLI entry point (argument
parsing, database open, write, close: everything a `memctl hook post-task` process does
but start Python) ``--writes`` times; ``--singles`` one-shot `memctl hook post-task`
processes, ``--sessions`` `hook session-end` processes, one `memctl cleanup` and two
`daemon --once` runs at the same time (the second waits for the first's lock: their job
runs must never overlap). Each worker has its own HOME, as processes on different
machines would. Prints the wall time, the write rate and whether everything is there;
exits 1 on any lost write, failed process or overlapping job runs.
tests/hooks/test_hook_stress.py runs the same function, on both engines, at a size that
fits the test suite.
"""

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

SRC = Path(__file__).resolve().parent.parent / "src"
sys.path.insert(0, str(SRC))

from memctl.lifecycle.policies import PACKAGED_POLICIES  # noqa: E402
from memctl.store import log, open_database  # noqa: E402
from memctl.store.memories import Filters, count  # noqa: E402

WORKER = """
import sys
from memctl.cli import main
worker = sys.argv[1]
failures = 0
for n in range(int(sys.argv[2])):
    sys.argv = ["memctl", "hook", "post-task", "--strict", "-q", "--task-id",
                f"w{worker}-{n}", "--description", f"stress task {n} of worker {worker}",
                "--agent-id", f"agent-{worker}", "--reward", "0.5", "--export-metrics", "true"]
    try:
        main()
    except SystemExit as exc:
        failures += exc.code != 0
print(failures)
"""


@dataclass
class Stress:
    workers: int
    writes: int
    singles: int
    sessions: int
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def total_writes(self) -> int:
        return self.workers * self.writes + self.singles


def prepare(workdir: Path, sessions: int, db: str | None = None) -> dict[str, str]:
    """A fresh database (``db``, else a file in ``workdir``) with scratch for ``sessions``
    sessions; the environment to run in (keyword-only policies, so no process loads the
    model)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    policies = workdir / "policies.yaml"
    policies.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MEMCTL_DB": db or str(workdir / "memory.db"),
        "MEMCTL_POLICIES": str(policies),
        "MEMCTL_HOME": str(workdir / "home"),
    }
    for s in range(sessions):
        for path in (f"session/s{s}", f"session/s{s}/notes", f"coordination/s{s}/task"):
            subprocess.run(
                [sys.executable, "-m", "memctl", "store", path, "scratch", "-q"],
                env=env,
                check=True,
            )
    return env


def run_stress(
    workdir: Path, workers: int, writes: int, singles: int, sessions: int, db: str | None = None
) -> Stress:
    """Run everything at once; ``problems`` lists every lost write, failed process or
    overlapping job runs."""
    result = Stress(workers, writes, singles, sessions)
    env = prepare(workdir, sessions, db)
    py = [sys.executable]
    argvs = [[*py, "-c", WORKER, str(w), str(writes)] for w in range(workers)]
    argvs += [
        [*py, "-m", "memctl", "hook", "post-task", "--task-id", f"single-{n}", "--strict"]
        for n in range(singles)
    ]
    argvs += [
        [*py, "-m", "memctl", "hook", "session-end", "--session-id", f"s{s}", "--strict"]
        for s in range(sessions)
    ]
    argvs.append([*py, "-m", "memctl", "cleanup", "--all-tenants", "-q"])
    argvs += [[*py, "-m", "memctl", "daemon", "--once", "--all-tenants"] for _ in range(2)]
    homes = [workdir / f"home-{n}" for n in range(len(argvs))]  # one "machine" each
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            argv,
            env={**env, "HOME": str(home), "MEMCTL_HOME": str(home / ".memctl")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv, home in zip(argvs, homes, strict=True)
    ]
    outcomes = [
        (argv, *proc.communicate(timeout=1800), proc.returncode)
        for argv, proc in zip(argvs, procs, strict=True)
    ]
    result.seconds = time.perf_counter() - started
    for argv, _, err, code in outcomes:
        if code != 0 or "error" in err.lower():
            result.problems.append(f"{argv[-4:]} exited {code}: {err.strip()[-300:]}")
    for _, out, _, _ in outcomes[:workers]:
        if out.strip() != "0":
            result.problems.append(f"a worker reports {out.strip()} failed writes")
    ends = [
        orjson.loads(out) for argv, out, _, code in outcomes if "session-end" in argv and code == 0
    ]
    if sorted(r["archived"] for r in ends) != [3] * sessions:
        result.problems.append(f"session ends archived {[r['archived'] for r in ends]}")
    result.problems += check_database(env["MEMCTL_DB"], result)
    return result


def check_database(db_path: str, stress: Stress) -> list[str]:
    problems = []
    db = open_database(db_path, create=False)
    try:
        episodes = count(db, Filters(tenant="default", namespace="episodes"))
        if episodes != stress.total_writes:
            problems.append(f"{episodes} episodes stored, {stress.total_writes} written")
        for w in range(stress.workers):
            mine = count(db, Filters(tenant="default", pattern=f"episodes/w{w}-*"))
            if mine != stress.writes:
                problems.append(f"worker {w}: {mine} of {stress.writes} writes present")
        scratch = count(db, Filters(tenant="default", archived=True))
        if scratch != 3 * stress.sessions:
            problems.append(f"{scratch} scratch memories archived, {3 * stress.sessions} expected")
        runs = log.recent(db, limit=100, action="daemon")
        if not runs or any(row["outcome"] != "ok" for row in runs):
            problems.append(
                f"daemon runs: {[(r['details'].get('job'), r['outcome']) for r in runs]}"
            )
        problems += overlapping(runs)
    finally:
        db.close()
    return problems


def overlapping(runs: list[dict[str, Any]]) -> list[str]:
    """Two runs of one job whose times overlap (the daemon lock must prevent it)."""
    problems = []
    by_job: dict[str, list[tuple[float, float]]] = {}
    for row in runs:
        start = float(row["started_at"])
        by_job.setdefault(str(row["details"].get("job")), []).append(
            (start, start + float(row["duration_ms"]) / 1000)
        )
    for job, spans in by_job.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end - 0.001:
                problems.append(f"two {job} runs overlap ({start:.3f} < {end:.3f})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--writes", type=int, default=200, help="writes per worker")
    parser.add_argument("--singles", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/memctl-stress-hooks"))
    parser.add_argument("--db", help="a fresh PostgreSQL database URL (default: a file)")
    args = parser.parse_args()
    result = run_stress(
        args.workdir, args.workers, args.writes, args.singles, args.sessions, args.db
    )
    processes = args.workers + args.singles + args.sessions + 3
    print(
        f"{processes} processes at once ({args.workers} workers x {args.writes} hook writes, "
        f"{args.singles} single hooks, {args.sessions} session ends, a cleanup, 2 daemon "
        "runs): "
        f"{result.total_writes:,} writes in {result.seconds:.1f} s "
        f"({result.total_writes / result.seconds:.0f} writes/s)"
    )
    if result.problems:
        print("PROBLEMS:\n  " + "\n  ".join(result.problems))
        return 1
    print("every write present, no process failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
