"""Retrieval evaluation: does `search` (and `hook pre-task`) find the right memory?

Data: tests/data/search_eval/*.yaml, written for this project (agent-style memories with
near-miss distractors, and queries of four kinds: paraphrase, keyword, multi, none).
Stores built from it:
- ``small``: each data file alone (~100 memories each);
- ``large``: every data file plus generated routine memories (``--distractors``, 2,400 by
  default) that share the common words of the domain (agent, task, deploy, error, ...).

For each store, mode and query kind it prints recall@5, recall@10, MRR@10 and nDCG@10
(relevance is binary; a ``multi`` query has two relevant memories and recall counts
both), in-process search latency, whether the top 10 is the same with ``-k 10`` and
``-k 50``, and what pre-task would inject. Queries are split in two halves by a hash of
their text: ``calibrate`` (used to choose the fusion and the pre-task threshold) and
``holdout``; both are reported.

    .venv/bin/python scripts/eval_search.py                 # everything
    .venv/bin/python scripts/eval_search.py --check         # only validate the data
    .venv/bin/python scripts/eval_search.py --json out.json --stores large
    .venv/bin/python scripts/eval_search.py --pg postgresql://postgres@/postgres?host=/tmp/pg

``--pg ADMIN_URL`` builds the stores on PostgreSQL instead (one database per store,
``memctl_eval_<store>``, dropped and made again), so the two engines' retrieval can be
compared on the same data.
"""

import argparse
import hashlib
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from memctl.embeddings import DEFAULT_MODEL, Embedder, get_embedder  # noqa: E402
from memctl.lifecycle.memories import StoreRequest, store  # noqa: E402
from memctl.lifecycle.policies import PACKAGED_POLICIES, Policies, load_policies  # noqa: E402
from memctl.lifecycle.values import search_text  # noqa: E402
from memctl.search.backlog import fill  # noqa: E402
from memctl.search.ranking import search  # noqa: E402
from memctl.search.relevance import RELEVANCE, relevant_context  # noqa: E402
from memctl.store import open_database  # noqa: E402
from memctl.store.db import Database  # noqa: E402
from memctl.store.memories import Filters  # noqa: E402

DATA = ROOT / "tests" / "data" / "search_eval"
MODES = ("hybrid", "semantic", "keyword")
KINDS = ("paraphrase", "keyword", "multi")
TENANT = "default"
NOW = datetime(2025, 4, 1, tzinfo=UTC).timestamp()  # after every memory's date
# Function words that do not count as "a word in common" for paraphrase queries.
FUNCTION_WORDS = frozenset(
    "a about above after again all also am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further get got had has have having he her here hers him his how i if in into is "
    "it its itself just me more most my no nor not now of off on once one only or other our "
    "ours out over own per same she should so some such than that the their theirs them then "
    "there these they this those through to too under until up us very was we were what when "
    "where which while who whom why will with would you your yours s t d ll ve re m".split()
)


@dataclass
class Item:
    id: str
    path: str
    value: Any
    type: str = "context"
    date: str = "2025-01-01"
    tags: list[str] = field(default_factory=list)
    agent: str | None = None


@dataclass
class Query:
    text: str
    kind: str
    answers: list[str]
    store: str

    @property
    def half(self) -> str:
        digest = hashlib.sha1(self.text.encode()).digest()[0]
        return "calibrate" if digest % 2 == 0 else "holdout"


@dataclass
class DataSet:
    memories: dict[str, list[Item]]  # store name -> its memories
    queries: list[Query]


def load_data(folder: Path = DATA) -> DataSet:
    memories: dict[str, list[Item]] = {}
    queries: list[Query] = []
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        name = doc["store"]
        memories[name] = [
            Item(
                id=m["id"],
                path=m["path"],
                value=m["value"],
                type=m.get("type", "context"),
                date=str(m.get("date", "2025-01-01")),
                tags=list(m.get("tags", [])),
                agent=m.get("agent"),
            )
            for m in doc["memories"]
        ]
        queries += [
            Query(q["q"], q["kind"], list(q.get("answers", [])), name) for q in doc["queries"]
        ]
    return DataSet(memories, queries)


# --- validation ------------------------------------------------------------------------


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if w not in FUNCTION_WORDS]


def check_data(data: DataSet, policies: Policies) -> list[str]:
    """Problems in the data: unknown answers, duplicates, paraphrases that share a word
    with their answer (as FTS5's porter tokenizer sees it, key included)."""
    import sqlite3

    problems = []
    items = {m.id: m for ms in data.memories.values() for m in ms}
    ids = [m.id for ms in data.memories.values() for m in ms]
    paths = [m.path for ms in data.memories.values() for m in ms]
    for name, seen in (("id", ids), ("path", paths)):
        dupes = {x for x in seen if seen.count(x) > 1}
        if dupes:
            problems.append(f"duplicate {name}s: {sorted(dupes)}")
    fts = sqlite3.connect(":memory:")
    fts.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
    rowid = {}
    for n, item in enumerate(items.values(), start=1):
        fts.execute("INSERT INTO t (rowid, text) VALUES (?, ?)", (n, text_of(item)))
        rowid[item.id] = n
    for q in data.queries:
        if q.kind not in (*KINDS, "none"):
            problems.append(f"{q.text!r}: unknown kind {q.kind}")
        if (q.kind == "none") != (not q.answers):
            problems.append(f"{q.text!r}: kind {q.kind} with answers {q.answers}")
        for answer in q.answers:
            if answer not in items:
                problems.append(f"{q.text!r}: unknown answer {answer}")
            elif items[answer].id not in {m.id for m in data.memories[q.store]}:
                problems.append(f"{q.text!r}: answer {answer} is in another store")
        if q.kind == "multi" and len(q.answers) != 2:
            problems.append(f"{q.text!r}: a multi query needs two answers")
        if q.kind != "paraphrase":
            continue
        for word in dict.fromkeys(content_words(q.text)):
            for answer in q.answers:
                hit = fts.execute(
                    "SELECT 1 FROM t WHERE t MATCH ? AND rowid = ?", (f'"{word}"', rowid[answer])
                ).fetchone()
                if hit:
                    problems.append(f"paraphrase {q.text!r} shares {word!r} with {answer}")
    return problems


def text_of(item: Item) -> str:
    """Everything a memory could be matched on: its whole path, tags, type and value."""
    return f"{search_text(item.path, item.value)} {' '.join(item.tags)} {item.type}"


# --- generated distractors ---------------------------------------------------------------

_COMPONENTS = (
    "orders-api reports-service notifier search-indexer media-proxy audit-log inventory-sync "
    "metrics-gateway scheduler user-profile catalog geo-lookup export-worker thumbnailer "
    "ingest-api feed-builder rules-engine settings-ui admin-portal mobile-bff importer "
    "sync-daemon label-printer forecast-job"
).split()
_THINGS = (
    "retry logic,error handling,unit tests,integration tests,config loader,README,logging,"
    "metrics,Dockerfile,Helm chart,CI job,lint warnings,type hints,dependency bumps,cache "
    "layer,database queries,API client,pagination,input validation,feature flag,dashboard "
    "panel,alert rules,timeout settings,health check,release notes,changelog,fixtures,"
    "serializer,permissions check,background task,cron entry,seed data,translations"
).split(",")
_VERBS = (
    "refactor,review,update,clean up,document,test,fix,rewrite,speed up,simplify,split,"
    "rename,profile,deploy,roll back,benchmark,migrate,extend,audit,tidy"
).split(",")
_OUTCOMES = (
    "tests pass,CI is green,waiting on review,merged to main,needs another pass,"
    "no behaviour change,coverage up by 2%,two flaky tests quarantined,reverted after a "
    "failing check,deployed to staging,blocked on a decision,half done,done"
).split(",")
_NAMES = (
    "Priya Tomás Ingrid Kwame Yuki Marta Olu Sofia Dev Aisha Lars Mei Rafael Noor Hannah "
    "Jonas Elena Ravi Fatima Chen Sam Leila Bruno Anya"
).split()
_CHATTER = (
    "I'll pick up {thing} for {comp} after lunch.",
    "Can someone review my PR #{n} for {comp}? It's the {thing} change.",
    "{comp} is green again on main.",
    "Moving the {thing} work on {comp} to next sprint.",
    "Reminder: demo at {hour}:00, bring your {comp} updates.",
    "I'm out tomorrow, {other} covers {comp}.",
    "The {thing} in {comp} is done, please pull before you rebase.",
    "Does anyone own {comp}? The {thing} looks stale.",
    "Pairing with {other} on {comp} {thing} this afternoon.",
    "Quick one: should {comp} keep its own {thing} or share the common one?",
)
_ERRORS = (
    "ValueError,KeyError,TimeoutError,ConnectionResetError,IntegrityError,TypeError,"
    "AssertionError,PermissionError,JSONDecodeError,FileNotFoundError"
).split(",")


def distractors(count: int, seed: int, avoid: set[str]) -> list[Item]:
    """Routine agent memories: task status, progress notes, small fixes, chatter, metrics.
    They share the domain's common words but answer none of the queries; identifiers
    that appear in the hand-written data (``avoid``) are never generated."""
    rng = random.Random(seed)
    out: list[Item] = []
    n = 0
    while len(out) < count:
        n += 1
        comp, thing, verb = rng.choice(_COMPONENTS), rng.choice(_THINGS), rng.choice(_VERBS)
        outcome, name = rng.choice(_OUTCOMES), rng.choice(_NAMES)
        day = datetime(2025, 1, 1, tzinfo=UTC).timestamp() + rng.random() * 89 * 86400
        date = datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%d")
        shape = n % 8
        code = f"E{rng.randint(1000, 9999)}"
        if code in avoid:
            continue
        item: Item
        if shape == 0:
            item = Item(
                f"g{n}",
                f"coordination/swarm-{comp}/agent-{n % 13}/status",
                {
                    "status": rng.choice(["in_progress", "done", "waiting", "idle"]),
                    "task": f"{verb} the {thing} of {comp}",
                    "step": rng.randint(1, 6),
                    "of": 6,
                },
                "coordination",
                date,
                agent=f"agent-{n % 13}",
            )
        elif shape == 1:
            item = Item(
                f"g{n}",
                f"session/s-{n}/notes",
                f"Working on the {thing} of {comp}; {outcome}.",
                "context",
                date,
            )
        elif shape == 2:
            item = Item(
                f"g{n}",
                f"episodes/{date}-{comp}-{n}",
                f"Had to {verb} the {thing} in {comp} ({rng.randint(2, 40)} files); {outcome}.",
                "episode",
                date,
            )
        elif shape == 3:
            err = rng.choice(_ERRORS)
            item = Item(
                f"g{n}",
                f"errors/{comp}/{code}",
                f"{code} {err} in {comp.replace('-', '_')}/{thing.split()[0]}.py line "
                f"{rng.randint(10, 900)} during the {thing}; {outcome}.",
                "error_pattern",
                date,
            )
        elif shape == 4:
            item = Item(
                f"g{n}",
                f"learning/notes/{comp}-{n}",
                f"When you {verb} the {thing} of {comp}, run the whole suite first; "
                f"last time it took {rng.randint(2, 30)} minutes.",
                "learning",
                date,
            )
        elif shape == 5:
            item = Item(
                f"g{n}",
                f"telemetry/{comp}/daily-{n}",
                {
                    "requests": rng.randint(1000, 90000),
                    "errors": rng.randint(0, 300),
                    "p95_ms": rng.randint(20, 900),
                    "date": date,
                },
                "observation",
                date,
            )
        elif shape == 6:
            text = rng.choice(_CHATTER).format(
                thing=thing,
                comp=comp,
                n=rng.randint(100, 999),
                hour=rng.randint(9, 17),
                other=rng.choice(_NAMES),
            )
            item = Item(
                f"g{n}",
                f"conversation/{date}/chat-{n}",
                {"speaker": name, "said": text},
                "conversation",
                date,
            )
        else:
            item = Item(
                f"g{n}",
                f"swarm/shared/{comp}/task-{n}",
                {"task": f"{verb} {thing}", "assignee": f"agent-{n % 13}", "result": outcome},
                "coordination",
                date,
            )
        out.append(item)
    return out


# --- building stores -------------------------------------------------------------------


def epoch(date: str) -> float:
    return datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()


def store_location(workdir: Path, name: str, pg: str | None) -> Path | str:
    """Where a store is built: a file in ``workdir``, or a fresh PostgreSQL database."""
    if pg is None:
        return workdir / f"{name}.db"
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    database = "memctl_eval_" + re.sub(r"\W", "_", name)
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    parts = urlsplit(pg)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def build_store(
    path: Path | str, items: Iterable[Item], policies: Policies, embedder: Embedder
) -> tuple[Database, dict[str, str], float]:
    """A database with ``items`` stored through the lifecycle layer and embedded; returns
    it, path -> item id, and the embedding throughput (memories/s)."""
    db = open_database(path, create=True)
    by_path = {}
    for item in items:
        namespace, key = policies.split_path(item.path)
        store(
            db,
            policies,
            epoch(item.date),
            StoreRequest(
                tenant=TENANT,
                namespace=namespace,
                key=key,
                value=item.value,
                ttl_seconds=0,
                type=item.type,
                tags=item.tags or None,
                agent_id=item.agent,
            ),
        )
        by_path[f"{namespace}/{key}"] = item.id
    started = time.perf_counter()
    done = 0
    while step := fill(db, embedder, 4096, TENANT):
        done += step
    rate = done / max(time.perf_counter() - started, 1e-9)
    return db, by_path, rate


# --- metrics ---------------------------------------------------------------------------


def metrics(ranked: list[str], answers: list[str]) -> dict[str, float]:
    relevant = set(answers)
    first = next((n for n, i in enumerate(ranked[:10], start=1) if i in relevant), None)
    dcg = sum(1 / math.log2(n + 1) for n, i in enumerate(ranked[:10], start=1) if i in relevant)
    ideal = sum(1 / math.log2(n + 1) for n in range(1, min(len(relevant), 10) + 1))
    return {
        "recall@5": len(relevant & set(ranked[:5])) / len(relevant),
        "recall@10": len(relevant & set(ranked[:10])) / len(relevant),
        "mrr@10": 0.0 if first is None else 1 / first,
        "ndcg@10": dcg / ideal,
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {name: sum(r[name] for r in rows) / len(rows) for name in rows[0]}


@dataclass
class Run:
    """One store, one mode: per-query metrics and timings."""

    store: str
    mode: str
    per_query: list[tuple[Query, dict[str, float]]] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)
    k_stable: int = 0


def evaluate_store(
    name: str,
    db: Database,
    by_path: dict[str, str],
    queries: list[Query],
    embedder: Embedder,
    modes: Iterable[str],
) -> list[Run]:
    filters = Filters(tenant=TENANT, now=NOW)
    runs = []
    for mode in modes:
        run = Run(name, mode)
        search(db, "warm up the caches", filters, mode=mode, embedder=lambda: embedder)
        for q in queries:
            if q.kind == "none":
                continue
            started = time.perf_counter()
            found = search(db, q.text, filters, limit=10, mode=mode, embedder=lambda: embedder)
            run.times_ms.append((time.perf_counter() - started) * 1000)
            ranked = [by_path.get(h.memory.path, "?") for h in found.hits]
            run.per_query.append((q, metrics(ranked, q.answers)))
            more = search(db, q.text, filters, limit=50, mode=mode, embedder=lambda: embedder)
            run.k_stable += [h.memory.id for h in more.hits[:10]] == [
                h.memory.id for h in found.hits
            ]
        runs.append(run)
    return runs


def evaluate_pre_task(
    db: Database,
    by_path: dict[str, str],
    queries: list[Query],
    embedder: Embedder,
    min_score: float | None = None,
) -> dict[str, int]:
    """Counts of what `hook pre-task` would inject (its rule, ``relevant_context``, with
    its defaults unless ``min_score`` replaces the threshold)."""
    filters = Filters(tenant=TENANT, now=NOW)
    counts = dict.fromkeys(
        ("none", "silent_none", "answerable", "answered", "injected", "right"), 0
    )
    for q in queries:
        found = relevant_context(
            db, q.text, filters, now=NOW, embedder=lambda: embedder, min_score=min_score
        )
        ids = [by_path.get(h.memory.path, "?") for h in found.hits]
        counts["injected"] += len(ids)
        if q.kind == "none":
            counts["none"] += 1
            counts["silent_none"] += not ids
            continue
        right = sum(i in q.answers for i in ids)
        counts["answerable"] += 1
        counts["right"] += right
        counts["answered"] += right > 0
    return counts


def pre_task_figures(counts: dict[str, int]) -> dict[str, float]:
    return {
        "silent on no-answer": counts["silent_none"] / max(counts["none"], 1),
        "precision": counts["right"] / max(counts["injected"], 1),
        "answered": counts["answered"] / max(counts["answerable"], 1),
        "injected per query": counts["injected"] / max(counts["none"] + counts["answerable"], 1),
    }


def add_counts(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for row in rows:
        for key, value in row.items():
            total[key] += value
    return dict(total)


# --- report ----------------------------------------------------------------------------

_COLUMNS = ("recall@5", "recall@10", "mrr@10", "ndcg@10")


def summarize(runs: list[Run], half: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        chosen = [(q, m) for q, m in run.per_query if half is None or q.half == half]
        for kind in ("all", *KINDS):
            picked = [m for q, m in chosen if kind == "all" or q.kind == kind]
            if picked:
                rows.append(
                    {
                        "store": run.store,
                        "mode": run.mode,
                        "kind": kind,
                        "n": len(picked),
                        **{k: round(v, 3) for k, v in mean_metrics(picked).items()},
                    }
                )
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(
        f"{'store':<8} {'mode':<9} {'kind':<11} {'n':>4} " + " ".join(f"{c:>9}" for c in _COLUMNS)
    )
    for r in rows:
        print(
            f"{r['store']:<8} {r['mode']:<9} {r['kind']:<11} {r['n']:>4} "
            + " ".join(f"{r[c]:>9.3f}" for c in _COLUMNS)
        )


def merge_runs(runs: list[Run], store: str) -> list[Run]:
    """Runs of several stores (the small ones) pooled per mode, in mode order."""
    merged: dict[str, Run] = {}
    for run in runs:
        target = merged.setdefault(run.mode, Run(store, run.mode))
        target.per_query += run.per_query
        target.times_ms += run.times_ms
        target.k_stable += run.k_stable
    return list(merged.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only validate the data")
    parser.add_argument("--stores", default="small,large", help="small, large or both")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--distractors", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--pg", default=None, help="a PostgreSQL admin URL: build stores there")
    parser.add_argument(
        "--sweep",
        type=float,
        nargs="*",
        default=[],
        help="pre-task thresholds to try besides the default (calibration)",
    )
    args = parser.parse_args()

    policies = load_policies(PACKAGED_POLICIES)
    data = load_data()
    problems = check_data(data, policies)
    total = sum(len(ms) for ms in data.memories.values())
    kinds: dict[str, int] = defaultdict(int)
    for q in data.queries:
        kinds[q.kind] += 1
    print(f"data: {total} memories in {len(data.memories)} files; queries: {dict(kinds)}")
    for problem in problems:
        print(f"  problem: {problem}")
    if args.check or problems:
        sys.exit(1 if problems else 0)

    embedder = get_embedder(DEFAULT_MODEL)
    assert embedder is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="memctl-eval-"))
    workdir.mkdir(parents=True, exist_ok=True)
    modes = args.modes.split(",")
    wanted = args.stores.split(",")
    # (group, store name, database, path -> item id, its queries)
    stores: list[tuple[str, str, Database, dict[str, str], list[Query]]] = []
    report: dict[str, Any] = {"model": embedder.model_id}
    if "small" in wanted:
        for name, items in data.memories.items():
            location = store_location(workdir, f"small-{name}", args.pg)
            db, by_path, _ = build_store(location, items, policies, embedder)
            stores.append(
                ("small", name, db, by_path, [q for q in data.queries if q.store == name])
            )
    if "large" in wanted:
        avoid = set(
            re.findall(
                r"E\d{4}",
                orjson.dumps([m.value for ms in data.memories.values() for m in ms]).decode(),
            )
        )
        items = [m for ms in data.memories.values() for m in ms]
        items += distractors(args.distractors, args.seed, avoid)
        started = time.perf_counter()
        location = store_location(workdir, "large", args.pg)
        db, by_path, rate = build_store(location, items, policies, embedder)
        count = int(db.scalar("SELECT count(*) FROM memories"))
        report["large_store"] = {
            "memories": count,
            "embedding_throughput_per_s": round(rate, 1),
            "build_s": round(time.perf_counter() - started, 1),
        }
        print(f"large store: {count} memories (written {len(items)}), embedded at {rate:.0f}/s")
        stores.append(("large", "large", db, by_path, data.queries))

    all_runs: list[Run] = []
    for group in ("small", "large"):
        runs = []
        for g, name, db, by_path, queries in stores:
            if g == group:
                runs += evaluate_store(name, db, by_path, queries, embedder, modes)
        all_runs += merge_runs(runs, group)
    for half in (None, "calibrate", "holdout"):
        rows = summarize(all_runs, half)
        print_table(f"retrieval ({half or 'all queries'})", rows)
        report[half or "all"] = rows
    print("\nlatency (in-process, ms) and ranking stability (top 10 equal with -k 10 and -k 50)")
    latency = []
    for run in all_runs:
        times = sorted(run.times_ms)
        entry = {
            "store": run.store,
            "mode": run.mode,
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "k_stable": f"{run.k_stable}/{len(run.per_query)}",
        }
        latency.append(entry)
        print(
            f"{run.store:<8} {run.mode:<9} median {entry['median_ms']:>6} p95 {entry['p95_ms']:>6}"
            f"  k-stable {entry['k_stable']}"
        )
    report["latency"] = latency

    thresholds: list[float | None] = [None, *args.sweep]
    print(f"\npre-task (relevant_context; default threshold {RELEVANCE})")
    header = ("store", "half", "threshold", "silent", "precision", "answered", "injected")
    print(f"{header[0]:<8} {header[1]:<10} " + " ".join(f"{h:>9}" for h in header[2:]))
    pre_task = []
    for group in ("small", "large"):
        for threshold in thresholds:
            for half in ("all", "calibrate", "holdout"):
                counts = add_counts(
                    evaluate_pre_task(
                        db,
                        by_path,
                        [q for q in queries if half == "all" or q.half == half],
                        embedder,
                        threshold,
                    )
                    for g, _, db, by_path, queries in stores
                    if g == group
                )
                if not counts:
                    continue
                figures = pre_task_figures(counts)
                shown = RELEVANCE if threshold is None else threshold
                pre_task.append({"store": group, "half": half, "threshold": shown, **figures})
                print(
                    f"{group:<8} {half:<10} {shown:>9.2f} "
                    + " ".join(f"{v:>9.2f}" for v in figures.values())
                )
    report["pre_task"] = pre_task
    for _, _, db, _, _ in stores:
        db.close()
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
