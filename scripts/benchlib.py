"""Helpers shared by the benchmarks: build large databases fast, time whole processes.

Databases are filled through the store layer in large transactions (not one
``memctl store`` process per memory), with realistic paths, values and timestamps.
"""

import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

SRC = Path(__file__).resolve().parent.parent / "src"
GNU_TIME = "/usr/bin/time"
sys.path.insert(0, str(SRC))

from memctl.lifecycle.values import content_hash, search_text  # noqa: E402
from memctl.store import open_database  # noqa: E402
from memctl.store.memories import insert  # noqa: E402

WORDS = (
    "auth token jwt refresh rotation login session cache redis postgres index query "
    "migration deploy kubernetes pod memory limit retry timeout backoff queue worker "
    "agent swarm coordinate plan review test failure fix pattern learning decision api "
    "schema upload storage bucket latency error handler config secret vault build ci"
).split()
NAMESPACES = ("knowledge", "coordination", "swarm/shared", "session", "learning", "errors")
TYPES = ("context", "learning", "error_pattern", "success_pattern", "episode", "observation")


def sentence(rng: random.Random, words: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def populate(
    db_path: Path,
    count: int,
    *,
    now: float,
    tenant: str = "default",
    namespaces: Sequence[str] = NAMESPACES,
    expires_at: float | None = None,
    age_days: float = 60.0,
    seed: int = 7,
    batch: int = 5000,
    start: int = 0,
) -> None:
    """Insert ``count`` memories (keys ``item-<n>``) straight through the store layer."""
    rng = random.Random(seed + start)
    db = open_database(db_path, create=True)
    try:
        for first in range(start, start + count, batch):
            with db.write():
                for n in range(first, min(first + batch, start + count)):
                    namespace = namespaces[n % len(namespaces)]
                    key = f"topic-{n % 97}/item-{n}"
                    value: Any = {"note": sentence(rng), "n": n}
                    data = orjson.dumps(value)
                    text = search_text(key, value)
                    created = now - rng.random() * age_days * 86400
                    insert(
                        db,
                        {
                            "tenant": tenant,
                            "namespace": namespace,
                            "key": key,
                            "value": data,
                            "compressed": 0,
                            "size": len(data),
                            "type": TYPES[n % len(TYPES)],
                            "agent_id": f"agent-{n % 16}",
                            "session_id": f"s-{n % 50}",
                            "tags": [rng.choice(WORDS)],
                            "metadata": {},
                            "importance": round(rng.uniform(1, 10), 2),
                            "reward": None,
                            "created_at": created,
                            "updated_at": created,
                            "accessed_at": created if n % 3 else None,
                            "expires_at": expires_at,
                            "access_count": n % 7,
                            "content_hash": content_hash(text),
                            "embedding_model": None,
                        },
                        text,
                    )
    finally:
        db.close()


def embed_all(db_path: Path) -> None:
    """Fill the embedding backlog of a benchmark database with the real model."""
    from memctl.embeddings import get_embedder
    from memctl.search.backlog import fill

    db = open_database(db_path, create=True)
    model = get_embedder("all-MiniLM-L6-v2")
    assert model is not None
    while fill(db, model, 4096):
        pass
    db.close()


def run_measured(
    argv: Sequence[str], env: dict[str, str] | None = None, input: str | None = None
) -> tuple[int, float, float, str]:
    """Run one whole process: (exit code, wall ms, its own peak RSS in MB, stderr)."""
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    # Linux carries a parent's RSS high-water mark into a forked child across exec, so
    # the peak is read by GNU time (a small parent) when it is there, else by wait4.
    gnu_time = os.path.exists(GNU_TIME)
    command = [GNU_TIME, "-f", "maxrss_kb=%M", *argv] if gnu_time else list(argv)
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=full_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    if input:
        proc.stdin.write(input)
    proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024
    if gnu_time:
        lines = err.rstrip("\n").split("\n")
        rss_mb = int(lines[-1].split("=", 1)[1]) / 1024
        err = "\n".join(line for line in lines[:-1] if "exited with non-zero" not in line)
    return proc.returncode, wall, rss_mb, err


def time_process(
    argv: Sequence[str], runs: int, env: dict[str, str] | None = None, input: str | None = None
) -> dict[str, float]:
    """Median and max wall time (ms) and peak RSS (MB) of a whole process, ``runs`` times."""
    walls, rss = [], []
    for _ in range(runs):
        code, wall, peak, err = run_measured(argv, env, input)
        if code not in (0, 1):
            raise RuntimeError(f"{argv}: exit {code}: {err.strip()}")
        walls.append(wall)
        rss.append(peak)
    return {
        "median_ms": round(statistics.median(walls), 1),
        "max_ms": round(max(walls), 1),
        "peak_rss_mb": round(max(rss), 1),
        "runs": runs,
    }


def memctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "memctl", *args]
