"""Benchmark `memctl mcp` as Claude Code uses it (docs/mcp.md): whole processes driven by
the MCP SDK's own client over stdio.

- start-up: spawn `memctl mcp`, complete the initialize handshake; wall time seen by the
  client and the server process's CPU time (user + sys), median of --runs;
- search round trip on a database of --size memories (embedded with the real model):
  the first `memory_search` of a server (it loads the model) and the median of the
  next --searches, as the client sees them.

    .venv/bin/python scripts/bench_mcp.py                  # 10k memories, 10 starts
    .venv/bin/python scripts/bench_mcp.py --size 100000 --runs 20
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import SRC, embed_all, populate

QUERIES = [
    "how do we rotate refresh tokens",
    "pod keeps crashing out of memory",
    "speed up the CI build cache",
    "retry with exponential backoff on timeouts",
    "which agent reviews the schema migration",
]
BUDGET_START_MS = 1000


def server(db: Path) -> StdioServerParameters:
    env = {"PYTHONPATH": str(SRC)}
    for name in ("MEMCTL_HOME", "MEMCTL_MODEL_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return StdioServerParameters(
        command=sys.executable, args=["-m", "memctl", "mcp", "--db", str(db)], env=env
    )


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def start_once(db: Path) -> tuple[float, float]:
    """(wall ms to a completed initialize, server CPU s for its whole short life)."""
    cpu = children_cpu_s()
    started = time.perf_counter()
    async with Client(server(db), mode="legacy") as client:
        wall = (time.perf_counter() - started) * 1000
        assert client.server_info is not None
    return wall, children_cpu_s() - cpu  # the server has exited and been reaped


async def searches(db: Path, count: int) -> dict[str, Any]:
    async with Client(server(db), mode="legacy", read_timeout_seconds=300) as client:
        times = []
        for n in range(count + 1):
            started = time.perf_counter()
            result = await client.call_tool("memory_search", {"query": QUERIES[n % 5]})
            times.append((time.perf_counter() - started) * 1000)
            assert not result.is_error, result.content
            assert result.structured_content and result.structured_content["model"]
    return {
        "first_ms": round(times[0], 1),
        "warm_median_ms": round(statistics.median(times[1:]), 1),
        "warm_max_ms": round(max(times[1:]), 1),
        "runs": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--searches", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memctl-bench-mcp-") as tmp:
        db = Path(tmp) / "memory.db"
        populate(db, args.size, now=time.time())
        embed_all(db)

        async def run() -> dict[str, Any]:
            await start_once(db)  # warm the file cache and the bytecode
            walls, cpus = [], []
            for _ in range(args.runs):
                wall, cpu = await start_once(db)
                walls.append(wall)
                cpus.append(cpu * 1000)
            return {
                "size": args.size,
                "start": {
                    "median_ms": round(statistics.median(walls), 1),
                    "max_ms": round(max(walls), 1),
                    "server_cpu_median_ms": round(statistics.median(cpus), 1),
                    "runs": args.runs,
                    "budget_ms": BUDGET_START_MS,
                },
                "search_round_trip": await searches(db, args.searches),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }

        print(orjson.dumps(anyio.run(run), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
