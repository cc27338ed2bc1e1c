"""Benchmark the hooks as Claude Code runs them: whole processes at 100k memories.

Reports the median and max wall time and the peak RSS of `memctl hook session-end`,
`hook post-task` and `hook pre-task` (docs/budgets.md: session-end <= 250 ms and
<= 120 MB; pre-task <= 1 s). Each session-end run ends a different session that has
three scratch memories, so every run really archives and writes a summary. pre-task is
measured on an embedded database (hybrid search, the model's cold ONNX load included)
and with the embedding model switched off (keyword search).

    .venv/bin/python scripts/bench_hooks.py                      # builds a 100k database
    .venv/bin/python scripts/bench_hooks.py --db /tmp/h.db --keep  # reuse it next time
    .venv/bin/python scripts/bench_hooks.py --no-embed             # skip the ~3 min embed
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import embed_all, memctl_argv, populate, run_measured

from memctl.clock import parse_time
from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.store import open_database

NOW = "2026-03-01T12:00:00Z"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "claude-code"
BUDGETS = {"session-end": (250, 120), "post-task": (250, 120), "pre-task": (1000, None)}
PROMPTS = [
    "Add refresh-token rotation to the JWT login flow",
    "the worker pod keeps getting OOM killed, raise the memory limit",
    "speed up the CI build cache for the postgres migration tests",
    "retry uploads to the storage bucket with exponential backoff",
]


def build(db_path: Path, count: int, embed: bool) -> None:
    started = time.perf_counter()
    populate(db_path, count, now=parse_time(NOW))
    print(f"populated {count:,} memories in {time.perf_counter() - started:.1f} s", flush=True)
    if embed:
        started = time.perf_counter()
        embed_all(db_path)
        print(f"embedded them in {time.perf_counter() - started:.1f} s", flush=True)


def seed_sessions(db_path: Path, sessions: list[str]) -> None:
    """Three scratch memories per session (the session-end runs archive them)."""
    policies = load_policies(PACKAGED_POLICIES)
    now = parse_time(NOW)
    db = open_database(db_path, create=True)
    with db.write():
        for session in sessions:
            for namespace, key in (
                ("session", session),
                ("session", f"{session}/notes"),
                ("coordination", f"{session}/task-1"),
            ):
                request = StoreRequest("default", namespace, key, {"scratch": session})
                store(db, policies, now, request)
    db.close()


def measure(runs: list[tuple[list[str], str | None]], env: dict[str, str]) -> dict[str, Any]:
    """Whole-process figures; the first run is a warm-up (page cache, bytecode)."""
    walls, peaks = [], []
    run_measured(runs[0][0], env, runs[0][1])
    for argv, stdin in runs[1:]:
        code, wall, peak, err = run_measured(argv, env, stdin)
        if code != 0 or err.strip():
            raise RuntimeError(f"{argv}: exit {code}: {err.strip()}")
        walls.append(wall)
        peaks.append(peak)
    return {
        "median_ms": round(statistics.median(walls), 1),
        "max_ms": round(max(walls), 1),
        "peak_rss_mb": round(max(peaks), 1),
        "runs": len(runs) - 1,
    }


def payload(name: str, **changes: str) -> str:
    data = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    data.update(changes)
    return orjson.dumps(data).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--db", type=Path, help="database to build (or reuse if it exists)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-embed", action="store_true", help="keyword-only pre-task")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE (every run recompiles memctl's sources)",
    )
    args = parser.parse_args()
    if not args.no_bytecode:
        # As installed by pip: modules load from compiled bytecode, not from source.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    folder = Path(tempfile.mkdtemp(prefix="memctl-bench-hooks-"))
    db_path = args.db or folder / "memory.db"
    if not db_path.exists():
        build(db_path, args.count, embed=not args.no_embed)
    sessions = [f"bench-{os.getpid()}-{n}" for n in range(args.runs + 1)]
    seed_sessions(db_path, sessions)
    keyword_policies = folder / "policies-keyword.yaml"
    keyword_policies.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    env = {"MEMCTL_DB": str(db_path), "MEMCTL_NOW": NOW}
    results: dict[str, dict[str, Any]] = {}

    results["session-end"] = measure(
        [
            (memctl_argv("hook", "session-end"), payload("session-end", session_id=s))
            for s in sessions
        ],
        env,
    )
    results["post-task"] = measure(
        [(memctl_argv("hook", "post-task"), payload("stop", session_id=s)) for s in sessions],
        env,
    )
    prompts = [PROMPTS[n % len(PROMPTS)] for n in range(args.runs + 1)]
    if not args.no_embed:
        results["pre-task"] = measure(
            [
                (memctl_argv("hook", "pre-task"), payload("user-prompt-submit", prompt=p))
                for p in prompts
            ],
            env,
        )
    results["pre-task (keyword)"] = measure(
        [
            (memctl_argv("hook", "pre-task"), payload("user-prompt-submit", prompt=p))
            for p in prompts
        ],
        {**env, "MEMCTL_POLICIES": str(keyword_policies)},
    )

    print(f"\nhooks at {args.count:,} memories ({db_path}), {args.runs} runs each")
    print(f"{'hook':<20} {'median ms':>10} {'max ms':>8} {'peak RSS MB':>12}  budget")
    for name, figures in results.items():
        wall, rss = BUDGETS[name.split(" ")[0]]
        budget = f"<= {wall} ms" + (f", <= {rss} MB" if rss else "")
        ok = figures["median_ms"] <= wall and (rss is None or figures["peak_rss_mb"] <= rss)
        print(
            f"{name:<20} {figures['median_ms']:>10} {figures['max_ms']:>8} "
            f"{figures['peak_rss_mb']:>12}  {budget} {'ok' if ok else 'OVER'}"
        )
    print(orjson.dumps(results).decode())
    if not args.keep and args.db is None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
