"""16 hook processes writing at once while the daemon runs: no error, no lost write."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.store import log, open_database
from memctl.store.memories import Filters, count
from tests.conftest import SRC, cli

WORKERS = 16
PER_WORKER = 200
SESSIONS = 4

# One process calls the memctl CLI entry point (argument parsing, stdin, database
# open, write, close: everything a `memctl hook post-task` process does but start
# Python) PER_WORKER times; WORKERS of them run at once.
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


@pytest.mark.slow
def test_sixteen_hook_processes_and_a_daemon_lose_nothing(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = tmp_path / "policies.yaml"
    policies.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    monkeypatch.setenv("MEMCTL_POLICIES", str(policies))
    for s in range(SESSIONS):
        for path in (f"session/s{s}", f"session/s{s}/notes", f"coordination/s{s}/task"):
            assert cli("store", path, "scratch").exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    py = [sys.executable]
    procs = [
        subprocess.Popen(
            [*py, "-c", WORKER, str(w), str(PER_WORKER)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    # ... while single-shot hook processes, session ends and a daemon run join in
    others = [
        [*py, "-m", "memctl", "hook", "post-task", "--task-id", f"single-{n}", "--strict"]
        for n in range(WORKERS)
    ]
    others += [
        [*py, "-m", "memctl", "hook", "session-end", "--session-id", f"s{s}", "--strict"]
        for s in range(SESSIONS)
    ]
    others.append([*py, "-m", "memctl", "daemon", "--once", "--all-tenants"])
    procs += [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in others
    ]
    results = [(proc.args, *proc.communicate(timeout=240), proc.returncode) for proc in procs]
    for args, _out, err, code in results:
        assert code == 0, (args, err)
        assert "error" not in err.lower(), (args, err)
    for _, out, _, _ in results[:WORKERS]:
        assert out.strip() == "0"  # no failed write inside any worker
    ends = [orjson.loads(out) for args, out, _, _ in results if "session-end" in args]
    assert sorted(r["archived"] for r in ends) == [3] * SESSIONS
    db = open_database(db_path, create=False)
    try:
        episodes = count(db, Filters(tenant="default", namespace="episodes"))
        assert episodes == WORKERS * PER_WORKER + WORKERS  # every write is there
        for w in range(WORKERS):
            mine = count(db, Filters(tenant="default", pattern=f"episodes/w{w}-*"))
            assert mine == PER_WORKER
        scratch = count(db, Filters(tenant="default", archived=True))
        assert scratch == 3 * SESSIONS
        runs = log.recent(db, limit=100, action="daemon")
        assert runs and all(row["outcome"] == "ok" for row in runs)
    finally:
        db.close()
