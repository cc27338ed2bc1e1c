"""What a large policies file costs every command (an adversarial run found ~47 s per
command with 20k rules on a loaded machine).

    .venv/bin/python scripts/bench_rules.py [--rules 20000] [--memories 20000] [--runs 3]
        [--workdir /tmp/memctl-bench-rules]

Writes a policies file of N rules (``team<i>/*``, each with its own TTL, the last ones
``cleanup_strategy: lazy``) and a database of M memories spread over the namespaces of
the last 50 rules and one no rule matches, half of them expired. Then runs whole
``memctl`` processes, each ``--runs`` times on a fresh copy, and prints the median wall
time per command with the rules file and with the packaged policies.
"""

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib

T0 = 1_800_000_000.0
COMMANDS: list[tuple[str, list[str]]] = [
    ("store (last rule)", ["store", "team{last}/new", "1", "-q"]),
    ("store (no rule)", ["store", "other/new", "1", "-q"]),
    ("recall", ["recall", "team{last}/topic-1/item-1", "--include-expired"]),
    ("list", ["list", "team{last}/*", "--limit", "20"]),
    ("policies explain", ["policies", "explain", "team{last}/x"]),
    ("cleanup", ["cleanup", "--json"]),
    ("decay --dry-run", ["decay", "--dry-run", "--json"]),
    ("prune --dry-run", ["prune", "--dry-run", "--json"]),
]


def write_policies(path: Path, rules: int) -> None:
    lines = ["version: 1", "namespaces:"]
    for i in range(rules):
        lines.append(f"  - namespace: 'team{i}/*'")
        lines.append(f"    ttl_seconds: {3600 + i}")
        if i >= rules - 10:
            lines.append("    cleanup_strategy: lazy")
    path.write_text("\n".join(lines) + "\n")


def build_db(path: Path, rules: int, memories: int) -> None:
    namespaces = [f"team{i}" for i in range(max(0, rules - 50), rules)] + ["other"]
    half = memories // 2
    benchlib.populate(path, half, now=T0, namespaces=namespaces, expires_at=T0 - 60)
    benchlib.populate(path, memories - half, now=T0, namespaces=namespaces, start=half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=20000)
    parser.add_argument("--memories", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/memctl-bench-rules"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rules_file = args.workdir / f"policies-{args.rules}.yaml"
    write_policies(rules_file, args.rules)
    base = args.workdir / f"base-{args.rules}-{args.memories}.db"
    if not base.exists():
        build_db(base, args.rules, args.memories)
    results: dict[str, Any] = {}
    for label, policies in (("rules", rules_file), ("packaged", None)):
        for name, argv in COMMANDS:
            walls = []
            for _ in range(args.runs):
                run_db = args.workdir / "run.db"
                for leftover in args.workdir.glob("run.db*"):
                    leftover.unlink()
                shutil.copy(base, run_db)
                env = {"MEMCTL_DB": str(run_db), "MEMCTL_NOW": str(T0)}
                if policies is not None:
                    env["MEMCTL_POLICIES"] = str(policies)
                filled = [part.replace("{last}", str(args.rules - 1)) for part in argv]
                timing = benchlib.time_process(benchlib.memctl_argv(*filled), 1, env)
                walls.append(timing["median_ms"])
            results.setdefault(name, {})[label] = sorted(walls)[len(walls) // 2]
    print(f"{'command':<20} {args.rules} rules (ms)   packaged policies (ms)")
    for name, row in results.items():
        print(f"{name:<20} {row['rules']:>14.0f}   {row['packaged']:>14.0f}")
    print(orjson.dumps({"rules": args.rules, "memories": args.memories, **results}).decode())


if __name__ == "__main__":
    main()
