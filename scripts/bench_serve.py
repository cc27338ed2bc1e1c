"""Benchmark `memctl serve` (docs/serve.md) at 100k memories: whole processes, medians.

With one server up on the database (the real model loaded, the database embedded):

1. `hook pre-task` as Claude Code runs it (a whole process, a UserPromptSubmit payload
   on stdin) through the warm path: median wall time and the hook process's peak RSS
   (budget <= 150 ms, <= 60 MB); the same hook with MEMCTL_WARM=0 for comparison.
2. `GET /api/search`: the server-side time (its Server-Timing header) and the round
   trip seen by one keep-alive client, median of --searches (budget <= 50 ms
   server-side).
3. Load: --clients concurrent clients x --requests each, 70 % search, 20 % store,
   10 % recall: errors, lost writes (every acknowledged store is looked up afterwards),
   p50/p95/p99 per kind and overall, requests per second.
   The WAL's size is sampled every second (max, and at the end).
4. Soak: the same mix from --soak-clients clients for --soak-seconds; the server's RSS
   and the WAL's size sampled every --sample-seconds (first, last, max).
5. SIGTERM: the exit code and how long the server took to stop.

    .venv/bin/python scripts/bench_serve.py                        # builds a 100k database
    .venv/bin/python scripts/bench_serve.py --db /tmp/s.db --keep  # reuse it next time
    .venv/bin/python scripts/bench_serve.py --soak-seconds 600     # the issue's 10 minutes
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import NAMESPACES, SRC, embed_all, memctl_argv, populate, run_measured, sentence

from memctl.clock import parse_time
from memctl.lifecycle import tokens
from memctl.store import open_database

NOW = "2026-03-01T12:00:00Z"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "claude-code"
QUERIES = [
    "Add refresh-token rotation to the JWT login flow",
    "the worker pod keeps getting OOM killed, raise the memory limit",
    "speed up the CI build cache for the postgres migration tests",
    "retry uploads to the storage bucket with exponential backoff",
    "which agent reviews the schema migration",
    "redis cache latency after deploy",
]
HOOK_BUDGET_MS, HOOK_BUDGET_MB, SEARCH_BUDGET_MS = 150, 60, 50
MIX = (("search", 0.7), ("store", 0.2), ("recall", 0.1))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": pct(values, 0.50),
        "p95": pct(values, 0.95),
        "p99": pct(values, 0.99),
        "max": round(max(values), 1),
    }


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of a process, MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# ---------------------------------------------------------------- the server


def start_server(db_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        memctl_argv("serve", "--port", "0", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=str(db_path.parent),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"memctl serve did not start (exit {proc.wait()})")
    return proc, json.loads(line)["url"]


def stop_server(proc: subprocess.Popen[str]) -> dict[str, Any]:
    started = time.perf_counter()
    os.kill(proc.pid, signal.SIGTERM)
    code = proc.wait(120)
    return {"exit": code, "stop_ms": round((time.perf_counter() - started) * 1000, 1)}


# ---------------------------------------------------------------- 1. pre-task


def payload(prompt: str) -> str:
    data = orjson.loads((FIXTURES / "user-prompt-submit.json").read_bytes())
    data["prompt"] = prompt
    return orjson.dumps(data).decode()


def hook_runs(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Whole `memctl hook pre-task` processes; the first is a warm-up (page cache)."""
    argv = memctl_argv("hook", "pre-task")
    walls, peaks = [], []
    for n in range(runs + 1):
        code, wall, peak, err = run_measured(argv, env, payload(QUERIES[n % len(QUERIES)]))
        if code != 0:
            raise RuntimeError(f"hook pre-task: exit {code}: {err.strip()}")
        if n:
            walls.append(wall)
            peaks.append(peak)
    return {
        "median_ms": round(statistics.median(walls), 1),
        "max_ms": round(max(walls), 1),
        "peak_rss_mb": round(max(peaks), 1),
        "runs": runs,
    }


# ---------------------------------------------------------------- 2. search


def server_ms(response: httpx.Response) -> float:
    timing = response.headers.get("server-timing", "")
    return float(timing.split("dur=", 1)[1]) if "dur=" in timing else float("nan")


def search_runs(url: str, token: str, searches: int) -> dict[str, Any]:
    server, trip = [], []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for n in range(searches + 1):
            started = time.perf_counter()
            answer = client.get("/api/search", params={"q": QUERIES[n % len(QUERIES)]})
            took = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            if n:  # the first loads what the model's first call loads
                server.append(server_ms(answer))
                trip.append(took)
    return {
        "server_median_ms": round(statistics.median(server), 1),
        "round_trip_median_ms": round(statistics.median(trip), 1),
        "server_p95_ms": pct(server, 0.95),
        "searches": searches,
    }


# ---------------------------------------------------------------- 3 and 4. load


class Load:
    """Mixed requests from concurrent clients; what was acknowledged and how long."""

    def __init__(self, url: str, token: str, count: int, seed: int) -> None:
        self.url, self.token, self.count = url, token, count
        self.rng = random.Random(seed)
        self.times: dict[str, list[float]] = {kind: [] for kind, _ in MIX}
        self.server_times: dict[str, list[float]] = {kind: [] for kind, _ in MIX}
        self.errors: list[str] = []
        self.acknowledged: set[str] = set()
        self.done = 0

    def pick(self) -> str:
        roll, total = self.rng.random(), 0.0
        for kind, share in MIX:
            total += share
            if roll < total:
                return kind
        return MIX[-1][0]

    async def one(self, client: httpx.AsyncClient, name: str, n: int) -> None:
        kind = self.pick()
        started = time.perf_counter()
        try:
            if kind == "search":
                answer = await client.get(
                    "/api/search", params={"q": self.rng.choice(QUERIES), "limit": 10}
                )
                ok = answer.status_code == 200
            elif kind == "store":
                path = f"bench/load/{name}-{n}"
                body = {"path": path, "value": {"note": sentence(self.rng), "n": n}}
                answer = await client.post("/api/memories", json=body)
                ok = answer.status_code in (200, 201)
                if ok:
                    self.acknowledged.add(path)
            else:
                item = self.rng.randrange(self.count)
                namespace = NAMESPACES[item % len(NAMESPACES)]
                path = f"{namespace}/topic-{item % 97}/item-{item}"
                answer = await client.get(f"/api/memories/{path}")
                ok = answer.status_code == 200
            if not ok:
                self.errors.append(f"{kind}: {answer.status_code} {answer.text[:200]}")
            else:
                self.server_times[kind].append(server_ms(answer))
        except httpx.HTTPError as exc:
            self.errors.append(f"{kind}: {exc!r}")
        self.times[kind].append((time.perf_counter() - started) * 1000)
        self.done += 1

    async def client(self, name: str, requests: int, deadline: float | None) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120) as client:
            n = 0
            while (deadline is None and n < requests) or (
                deadline is not None and time.monotonic() < deadline
            ):
                await self.one(client, name, n)
                n += 1

    async def run(self, clients: int, requests: int, deadline: float | None, tag: str) -> None:
        await asyncio.gather(
            *(self.client(f"{tag}{c}", requests, deadline) for c in range(clients))
        )

    def figures(self, seconds: float) -> dict[str, Any]:
        every = [t for times in self.times.values() for t in times]
        return {
            "requests": self.done,
            "seconds": round(seconds, 1),
            "per_second": round(self.done / seconds, 1),
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "all_ms": summary(every),
            **{f"{kind}_ms": summary(times) for kind, times in self.times.items()},
            **{f"{kind}_server_ms": summary(times) for kind, times in self.server_times.items()},
        }


def wal_mb(db_path: Path) -> float:
    """The size of the database's write-ahead log, MB (0 when there is none)."""
    try:
        return round(Path(f"{db_path}-wal").stat().st_size / 1024 / 1024, 1)
    except FileNotFoundError:
        return 0.0


async def wal_sampler(db_path: Path, sizes: list[float], done: asyncio.Event) -> None:
    while not done.is_set():
        sizes.append(wal_mb(db_path))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)
    sizes.append(wal_mb(db_path))


def lost_writes(db_path: Path, acknowledged: set[str]) -> int:
    db = open_database(db_path, create=False)
    try:
        rows = db.all("SELECT key FROM memories WHERE tenant = 'default' AND namespace = 'bench'")
    finally:
        db.close()
    kept = {f"bench/{row[0]}" for row in rows}
    return len(acknowledged - kept)


def load_run(
    url: str, token: str, db_path: Path, count: int, clients: int, requests: int
) -> dict[str, Any]:
    load = Load(url, token, count, seed=1)
    wal: list[float] = []

    async def both() -> None:
        done = asyncio.Event()
        sampler = asyncio.create_task(wal_sampler(db_path, wal, done))
        await load.run(clients, requests, None, "c")
        done.set()
        await sampler

    started = time.perf_counter()
    asyncio.run(both())
    figures = load.figures(time.perf_counter() - started)
    figures["wal_max_mb"], figures["wal_end_mb"] = max(wal), wal[-1]
    figures["acknowledged_stores"] = len(load.acknowledged)
    figures["lost_writes"] = lost_writes(db_path, load.acknowledged)
    return figures


def soak(
    url: str,
    token: str,
    db_path: Path,
    count: int,
    pid: int,
    clients: int,
    seconds: float,
    every: float,
) -> dict[str, Any]:
    load = Load(url, token, count, seed=2)
    samples: list[tuple[float, float, float]] = []  # seconds, RSS MB, WAL MB

    async def sample(deadline: float) -> None:
        started = time.monotonic()
        while time.monotonic() < deadline:
            now = round(time.monotonic() - started, 1)
            samples.append((now, round(rss_mb(pid)[0], 1), wal_mb(db_path)))
            await asyncio.sleep(every)
        now = round(time.monotonic() - started, 1)
        samples.append((now, round(rss_mb(pid)[0], 1), wal_mb(db_path)))

    async def both() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(load.run(clients, 0, deadline, "s"), sample(deadline))

    started = time.perf_counter()
    asyncio.run(both())
    figures = load.figures(time.perf_counter() - started)
    rss = [mb for _, mb, _ in samples]
    return {
        **{k: figures[k] for k in ("requests", "per_second", "errors", "all_ms")},
        "rss_first_mb": rss[0],
        "rss_after_first_minute_mb": next((mb for t, mb, _ in samples if t >= 60), rss[-1]),
        "rss_last_mb": rss[-1],
        "rss_max_mb": max(rss),
        "wal_max_mb": max(wal for _, _, wal in samples),
        "samples": samples,
    }


# ---------------------------------------------------------------- main


def build(db_path: Path, count: int) -> None:
    started = time.perf_counter()
    populate(db_path, count, now=parse_time(NOW))
    log(f"populated {count:,} memories in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    embed_all(db_path)
    log(f"embedded them in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="database to build (or reuse if it exists)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--hook-runs", type=int, default=15)
    parser.add_argument("--cold-runs", type=int, default=3, help="pre-task with MEMCTL_WARM=0")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=500, help="per client")
    parser.add_argument("--soak-clients", type=int, default=8)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: from bytecode

    folder = Path(tempfile.mkdtemp(prefix="memctl-bench-serve-"))
    db_path = (args.db or folder / "memory.db").resolve()
    if not db_path.exists():
        build(db_path, args.count)
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MEMCTL_DB": str(db_path),
        "MEMCTL_HOME": str(folder / "home"),
    }
    for name in ("MEMCTL_NOW", "MEMCTL_POLICIES", "MEMCTL_TENANT", "MEMCTL_WARM"):
        env.pop(name, None)
    db = open_database(db_path, create=False)
    token = tokens.create(db, "default", time.time(), name=f"bench-{os.getpid()}").secret
    db.close()
    load_avg = os.getloadavg()
    results: dict[str, Any] = {"count": args.count, "load_before": [round(x, 2) for x in load_avg]}

    proc, url = start_server(db_path, env)
    try:
        log(f"server pid {proc.pid} at {url}")
        results["search"] = search_runs(url, token, args.searches)  # loads the model first
        log(f"search: {results['search']}")
        results["pre_task_warm"] = hook_runs(env, args.hook_runs)
        log(f"pre-task (server up): {results['pre_task_warm']}")
        if args.cold_runs:
            cold_env = {**env, "MEMCTL_WARM": "0"}
            results["pre_task_in_process"] = hook_runs(cold_env, args.cold_runs)
            log(f"pre-task (MEMCTL_WARM=0): {results['pre_task_in_process']}")
        results["server_rss_before_load_mb"] = round(rss_mb(proc.pid)[0], 1)
        results["load"] = load_run(url, token, db_path, args.count, args.clients, args.requests)
        log(f"load: {results['load']}")
        if args.soak_seconds > 0:
            results["soak"] = soak(
                url,
                token,
                db_path,
                args.count,
                proc.pid,
                args.soak_clients,
                args.soak_seconds,
                args.sample_seconds,
            )
            log(f"soak: { {k: v for k, v in results['soak'].items() if k != 'samples'} }")
        results["server_peak_rss_mb"] = round(rss_mb(proc.pid)[1], 1)
    finally:
        if proc.poll() is None:
            results["sigterm"] = stop_server(proc)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]

    hook, search, load = results["pre_task_warm"], results["search"], results["load"]
    print(f"\nmemctl serve at {args.count:,} memories ({db_path}); load {results['load_before']}")
    print(
        f"hook pre-task (server up): median {hook['median_ms']} ms, peak {hook['peak_rss_mb']} MB "
        f"(budget <= {HOOK_BUDGET_MS} ms, <= {HOOK_BUDGET_MB} MB)"
    )
    print(
        f"GET /api/search: server-side median {search['server_median_ms']} ms, round trip "
        f"{search['round_trip_median_ms']} ms (budget <= {SEARCH_BUDGET_MS} ms server-side)"
    )
    print(
        f"load {args.clients} x {args.requests}: {load['requests']} requests, "
        f"{load['errors']} errors, {load['lost_writes']} lost writes of "
        f"{load['acknowledged_stores']}, p50/p95/p99 {load['all_ms']['p50']}/"
        f"{load['all_ms']['p95']}/{load['all_ms']['p99']} ms, {load['per_second']}/s; "
        f"WAL max {load['wal_max_mb']} MB, {load['wal_end_mb']} MB at the end"
    )
    if "soak" in results:
        s = results["soak"]
        print(
            f"soak {args.soak_seconds:g} s x {args.soak_clients} clients: {s['requests']} "
            f"requests, {s['errors']} errors; RSS {s['rss_first_mb']} -> "
            f"{s['rss_after_first_minute_mb']} (1 min) -> {s['rss_last_mb']} MB, "
            f"max {s['rss_max_mb']}; WAL max {s['wal_max_mb']} MB"
        )
    print(f"SIGTERM: {results.get('sigterm')}")
    print(orjson.dumps(results).decode())
    if not args.keep and args.db is None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
