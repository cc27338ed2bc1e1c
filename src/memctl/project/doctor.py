"""The checks ``memctl doctor`` runs, in order. Each returns one or more ``Check``.

Adding a check: write a function from ``Context`` to a list of ``Check`` and add it to
``CHECKS``.
"""

import math
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from memctl.errors import MemctlError
from memctl.hooks import claude_settings
from memctl.lifecycle.policies import Policies, load_policies
from memctl.paths import Project

OK, WARN, FAIL = "ok", "warn", "fail"
# Claude Code kills SessionEnd hooks after 1.5 s whatever their "timeout" says; the
# other events wait for the hook's "timeout" (60 s when unset).
SESSION_END_LIMIT_S = 1.5
SLOW_SHARE = 0.5  # a p95 over half the limit is a warning: a loaded machine doubles it
DEFAULT_RUNS = 5


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
            **self.data,
        }


@dataclass
class Context:
    """What the command resolved: the project, its database and policies file."""

    project: Project
    policies_path: Path
    runs: int = DEFAULT_RUNS
    policies: Policies | None = None  # set by check_policies when the file is valid


def check_path(ctx: Context) -> list[Check]:
    found = shutil.which("memctl")
    if found is None:
        return [
            Check(
                "memctl on PATH",
                FAIL,
                "not found: hooks and cron run `memctl` by name",
                "add .venv/bin to PATH, or use the ~/.local/bin/memctl link scripts/setup.sh "
                "makes (or `hooks install --command /full/path/to/memctl`)",
            )
        ]
    return [Check("memctl on PATH", OK, found, data={"path": found})]


def check_database(ctx: Context) -> list[Check]:
    from memctl.store.health import examine

    path = ctx.project.db
    name = "database"
    try:
        found = examine(path)  # a SQLite file or a PostgreSQL database
    except MemctlError as exc:
        return [Check(name, FAIL, str(exc), data={"path": str(path)})]
    if found is None:
        return [
            Check(
                name,
                FAIL,
                f"no database at {path} (from {ctx.project.describe_db()})",
                "run `memctl init` in the project, or point --db / MEMCTL_DB at it",
                {"path": str(path)},
            )
        ]
    status, problems, counts, size = found.status, found.problems, found.counts, found.size
    data: dict[str, Any] = {"path": str(path), "schema": status.current, "bytes": size}
    head = f"{path} ({size / 1e6:.1f} MB), schema {status.current}"
    if status.newer:
        return [
            Check(
                name,
                FAIL,
                f"{head}: newer than this memctl knows ({status.latest})",
                "upgrade memctl",
                data,
            )
        ]
    if problems != ["ok"]:
        return [
            Check(
                name,
                FAIL,
                f"{head}: integrity check failed: {'; '.join(problems)}",
                "restore a backup (`memctl import`), or export what is readable",
                data,
            )
        ]
    if counts is None:
        pending = ", ".join(map(str, status.pending))
        return [
            Check(
                name,
                WARN,
                f"{head}: migrations {pending} pending (the next command applies them)",
                "`memctl migrate up` applies them now",
                data,
            )
        ]
    data.update(
        memories=counts.active,
        archived=counts.archived,
        keyword_index=counts.keyword,
        vectors=counts.vectors,
        vector_index=counts.index,
        graph_waiting=counts.waiting,
    )
    summary = f"{head}, integrity ok, {counts.active:,} memories + {counts.archived:,} archived"
    if not counts.agree:
        return [
            Check(
                name,
                FAIL,
                f"{summary}; indexes disagree: keyword {counts.keyword:,} rows for "
                f"{counts.active + counts.archived:,} memories, vector index "
                f"{counts.index:,} rows for {counts.vectors:,} vectors, "
                f"{counts.orphans:,} orphan vectors",
                "`memctl compact --force` rebuilds the vector index; export + import into "
                "a new database rebuilds every index",
                data,
            )
        ]
    checks = [Check(name, OK, f"{summary}; keyword and vector indexes agree", data=data)]
    if counts.waiting:  # a hub after an import (docs/storage.md, "Vectors")
        detail = f"{counts.waiting:,} imported vectors wait outside the search graph"
        hint = "the daemon's embed job puts them in; `memctl reindex` does it now"
        checks.append(Check("search graph", WARN, detail, hint, {"waiting": counts.waiting}))
    return checks


def check_policies(ctx: Context) -> list[Check]:
    try:
        ctx.policies = load_policies(ctx.policies_path)
    except MemctlError as exc:
        return [Check("policies", FAIL, str(exc), data={"path": str(ctx.policies_path)})]
    rules = len(ctx.policies.rules)
    return [
        Check(
            "policies",
            OK,
            f"{ctx.policies_path}: valid, {rules} namespace rule{'s' if rules != 1 else ''}",
            data={"path": str(ctx.policies_path)},
        )
    ]


def check_model(ctx: Context) -> list[Check]:
    from memctl.embeddings.model_files import is_prepared, prepared_dir

    if ctx.policies is None:
        return [Check("model", WARN, "not checked: the policies file is not valid")]
    model = ctx.policies.embedding_model
    if model == "none":
        return [Check("model", OK, "embedding.model is none: keyword search only")]
    try:
        ready = is_prepared(model)
        folder = prepared_dir(model)
    except MemctlError as exc:
        return [Check("model", FAIL, f"{model}: {exc}")]
    if not ready:
        return [
            Check(
                "model",
                FAIL,
                f"{model} is not prepared: hooks search by keyword only until it is, and "
                "the first search stops to prepare it (~30 s)",
                "run `memctl model prepare`",
            )
        ]
    return [Check("model", OK, f"{model} prepared in {folder}", data={"path": str(folder)})]


def check_server(ctx: Context) -> list[Check]:
    """``memctl serve`` on the database's socket (docs/serve.md): not running is fine."""
    from memctl.warm import probe

    state = probe(ctx.project.db)
    data = {k: v for k, v in state.items() if k != "detail"}
    if state["up"] or "not running (no socket)" not in state["detail"]:
        status = OK if state["fast"] else WARN  # slow, stale, or another database's
        return [Check("warm server", status, state["detail"], "start `memctl serve`", data)]
    detail = f"{state['detail']}: hooks and search run in-process"
    return [Check("warm server", OK, detail, data=data)]


def settings_files(root: Path) -> list[Path]:
    return [root / ".claude" / "settings.json", root / ".claude" / "settings.local.json"]


def installed_hooks(root: Path) -> tuple[list[tuple[Path, str, str, str, float]], list[str]]:
    """(file, event, memctl hook, command, timeout) of every memctl hook entry, and the
    problems met reading the files."""
    found, problems = [], []
    for path in settings_files(root):
        try:
            settings = claude_settings.load(path)
        except MemctlError as exc:
            problems.append(str(exc))
            continue
        for event, name, command, timeout in claude_settings.installed(settings or {}):
            found.append((path, event, name, command, timeout))
    return found, problems


def resolvable(command: str) -> str | None:
    """The program a hook command runs, if it can be found as Claude Code's shell would."""
    try:
        program = shlex.split(command)[0]
    except (ValueError, IndexError):
        return None
    if "/" in program:
        path = Path(os.path.expanduser(program))
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program)


def check_hooks(ctx: Context) -> list[Check]:
    hooks, problems = installed_hooks(ctx.project.root)
    if problems:
        return [Check("hooks", FAIL, "; ".join(problems))]
    if not hooks:
        return [
            Check(
                "hooks",
                WARN,
                f"no memctl hooks in {ctx.project.root / '.claude'}/settings*.json",
                "`memctl hooks install` adds them (SessionStart, UserPromptSubmit, Stop, "
                "PreCompact, SessionEnd)",
            )
        ]
    missing = sorted({command for *_, command, _ in hooks if resolvable(command) is None})
    events = ", ".join(f"{event} -> {name}" for _, event, name, _, _ in hooks)
    if missing:
        return [
            Check(
                "hooks",
                FAIL,
                f"installed ({events}), but cannot run: {'; '.join(missing)}",
                "reinstall with `memctl hooks install --command /full/path/to/memctl`",
            )
        ]
    checks = [Check("hooks", OK, f"installed and runnable: {events}")]
    if ctx.runs > 0 and not isinstance(ctx.project.db, Path):  # timing writes to the hub
        hint = "time one by hand: `time memctl hook pre-task --description test`"
        checks.append(Check("hook latency", WARN, "not timed on a shared hub", hint))
    elif ctx.runs > 0:
        checks += latency_checks(ctx, hooks)
    return checks


# ---------------------------------------------------------------- hook latency


def payload(event: str, session: str, root: Path) -> dict[str, Any]:
    """A harmless Claude Code payload for ``event`` (a session no one else uses)."""
    base: dict[str, Any] = {
        "session_id": session,
        "transcript_path": "",
        "cwd": str(root),
        "hook_event_name": event,
        "permission_mode": "default",
    }
    extra: dict[str, dict[str, Any]] = {
        "SessionStart": {"source": "startup"},
        "UserPromptSubmit": {"prompt": "memctl doctor: how long does this hook take?"},
        "Stop": {"stop_hook_active": False, "last_assistant_message": "memctl doctor check"},
        "PreCompact": {"trigger": "manual", "custom_instructions": ""},
        "SessionEnd": {"reason": "other"},
    }
    return {**base, **extra.get(event, {})}


def limit_for(event: str, timeout: float) -> float:
    return min(timeout, SESSION_END_LIMIT_S) if event == "SessionEnd" else timeout


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile (of 5 runs: the slowest)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def latency_checks(ctx: Context, hooks: list[tuple[Path, str, str, str, float]]) -> list[Check]:
    """Run each installed hook ``ctx.runs`` times as Claude Code would (its command
    through the shell, a JSON payload on stdin) against a copy of the database, so
    nothing the user keeps is touched; one line per hook with its p95 and its limit."""
    from memctl.store.transfer import snapshot_file

    checks = []
    with tempfile.TemporaryDirectory(prefix="memctl-doctor-") as tmp:
        copy = Path(tmp) / "memory.db"
        assert isinstance(ctx.project.db, Path)  # a hub is not timed (check_hooks)
        snapshot_file(ctx.project.db, copy)
        env = {
            **os.environ,
            "MEMCTL_DB": str(copy),
            "CLAUDE_PROJECT_DIR": str(ctx.project.root),
        }
        env.pop("MEMCTL_NOW", None)
        seen = set()
        for _, event, name, command, timeout in hooks:
            if (event, command) in seen:
                continue
            seen.add((event, command))
            checks.append(time_hook(ctx, event, name, command, timeout, env))
    return checks


def time_hook(
    ctx: Context, event: str, name: str, command: str, timeout: float, env: dict[str, str]
) -> Check:
    limit = limit_for(event, timeout)
    label = f"{event} hook ({name})"
    samples = []
    for run in range(ctx.runs):
        stdin = orjson.dumps(payload(event, f"memctl-doctor-{os.getpid()}-{run}", ctx.project.root))
        started = time.perf_counter()
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                input=stdin,
                capture_output=True,
                env=env,
                cwd=ctx.project.root,
                timeout=limit + 10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Check(label, FAIL, f"did not finish within {limit + 10:g} s (limit {limit:g} s)")
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            return Check(
                label,
                FAIL,
                f"exited {done.returncode}: {said[-1] if said else '(no message)'}",
            )
    return judge(event, name, timeout, samples)


def judge(event: str, name: str, timeout: float, samples: list[float]) -> Check:
    """A hook's line from its run times: fail at or over Claude Code's limit for the
    event, warn over half of it."""
    limit = limit_for(event, timeout)
    label = f"{event} hook ({name})"
    worst = p95(samples)
    data = {"event": event, "p95_s": round(worst, 3), "limit_s": limit, "runs": len(samples)}
    detail = f"p95 {worst * 1000:.0f} ms of {len(samples)} runs (limit {limit:g} s)"
    if worst >= limit:
        why = "kills it" if event == "SessionEnd" else "stops waiting for it"
        return Check(label, FAIL, detail, f"Claude Code {why} at {limit:g} s", data)
    if worst >= limit * SLOW_SHARE:
        return Check(label, WARN, f"{detail}: over half the limit", None, data)
    return Check(label, OK, detail, data=data)


CHECKS: list[Callable[[Context], list[Check]]] = [
    check_path,
    check_database,
    check_policies,
    check_model,
    check_server,
    check_hooks,
]


def run_checks(ctx: Context) -> list[Check]:
    return [check for function in CHECKS for check in function(ctx)]
