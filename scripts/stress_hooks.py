"""Stress: many hook processes writing at once while session ends and a daemon run join
in. Every write must land and no process may fail (docs/budgets.md: 16 processes
writing at once, no error, no lost write).

    .venv/bin/python scripts/stress_hooks.py [--workers 16] [--writes 200]
        [--singles 16] [--sessions 4] [--workdir /tmp/memctl-stress-hooks]

Each worker is one Python process that calls the memctl CLI entry point (argument
parsing, database open, write, close: everything a `memctl hook post-task` process does
but start Python) ``--writes`` times; ``--singles`` one-shot `memctl hook post-task`
processes, ``--sessions`` `hook session-end` processes and one `daemon --once` run at
the same time. Prints the wall time, the write rate and whether everything is there;
exits 1 on any lost write or failed process. tests/hooks/test_hook_stress.py runs the
same function at a size that fits the test suite.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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


def prepare(workdir: Path, sessions: int) -> dict[str, str]:
    """A fresh database with scratch for ``sessions`` sessions; the environment to run in
    (keyword-only policies, so no process loads the model)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    policies = workdir / "policies.yaml"
    policies.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MEMCTL_DB": str(workdir / "memory.db"),
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


def run_stress(workdir: Path, workers: int, writes: int, singles: int, sessions: int) -> Stress:
    """Run everything at once; ``problems`` lists every lost write or failed process."""
    result = Stress(workers, writes, singles, sessions)
    env = prepare(workdir, sessions)
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
    argvs.append([*py, "-m", "memctl", "daemon", "--once", "--all-tenants"])
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
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
    result.problems += check_database(Path(env["MEMCTL_DB"]), result)
    return result


def check_database(db_path: Path, stress: Stress) -> list[str]:
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
    finally:
        db.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--writes", type=int, default=200, help="writes per worker")
    parser.add_argument("--singles", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/memctl-stress-hooks"))
    args = parser.parse_args()
    result = run_stress(args.workdir, args.workers, args.writes, args.singles, args.sessions)
    processes = args.workers + args.singles + args.sessions + 1
    print(
        f"{processes} processes at once ({args.workers} workers x {args.writes} hook writes, "
        f"{args.singles} single hooks, {args.sessions} session ends, 1 daemon run): "
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
