"""``memctl hooks install|uninstall``: merge memctl's hook commands into Claude Code's
``.claude/settings.json`` and take them out again.

Which events (Claude Code hook names) run which memctl hook, with timeouts in seconds:
- ``SessionStart`` -> ``memctl hook session-start`` (the last session's summary and the
  memories relevant to it, as context; after a compaction, this session's own);
- ``UserPromptSubmit`` -> ``memctl hook pre-task`` (recalled memories as context);
- ``Stop`` -> ``memctl hook post-task`` (the turn's outcome as an episode);
- ``PreCompact`` -> ``memctl hook pre-compact`` (keep the session's summary before its
  context is compacted);
- ``SessionEnd`` -> ``memctl hook session-end`` (archive scratch, keep a summary).
All five by default; ``events`` chooses (``hooks install --events``). The timeouts sit
well above each hook's measured latency, and SessionEnd's within the 1.5 s Claude Code
allows it.

Merging never removes or reorders anyone else's hooks. memctl's own entries are
recognised by their command (``... memctl hook <name>``), so installing twice changes
nothing, installing a different choice of events leaves memctl's entries exactly that
choice, and uninstalling removes only memctl's. The old file is backed up (mode 0600)
before any change (into ``.memctl/backups/``, the newest five kept), and the new one is
written atomically.
"""

import copy
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from memctl.errors import BadInput, StorageError
from memctl.paths import DB_DIR, write_gitignore

HOOKS: tuple[tuple[str, str, int], ...] = (
    ("SessionStart", "session-start", 10),
    ("UserPromptSubmit", "pre-task", 10),
    ("Stop", "post-task", 10),
    ("PreCompact", "pre-compact", 10),
    ("SessionEnd", "session-end", 5),
)
EVENTS = tuple(event for event, _, _ in HOOKS)
_MEMCTL_HOOK = re.compile(
    r"(?:^|[\s/\\\"'])memctl(?:\.exe)?[\"']?\s+hook\s+"
    r"(session-start|session-end|pre-task|post-task|pre-compact|memory-cleanup)(?:\s|$)"
)


def parse_events(text: str | None) -> tuple[str, ...]:
    """``--events``: comma-separated Claude Code event names or memctl hook names (any
    case), or ``all``; in the order of ``HOOKS``. None means all."""
    if text is None or text.strip().lower() == "all":
        return EVENTS
    by_name = {}
    for event, name, _ in HOOKS:
        by_name[event.lower()] = event
        by_name[name] = event
    chosen = set()
    for word in (part.strip() for part in text.split(",")):
        if not word:
            continue
        found = by_name.get(word.lower())
        if found is None:
            raise BadInput(
                f"--events: unknown event {word!r}; choose from {', '.join(EVENTS)} (or all)"
            )
        chosen.add(found)
    if not chosen:
        raise BadInput(f"--events: name at least one of {', '.join(EVENTS)} (or all)")
    return tuple(event for event in EVENTS if event in chosen)


def hook_command(executable: str, name: str) -> str:
    return f"{executable} hook {name}"


def memctl_hook_name(entry: Any) -> str | None:
    """The memctl hook an entry runs, or None if it is not one of memctl's."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return None
    match = _MEMCTL_HOOK.search(entry["command"])
    return match.group(1) if match else None


DEFAULT_TIMEOUT_S = 60.0  # Claude Code's timeout for a hook command without "timeout"


def installed(settings: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """memctl's entries in a settings object: (event, memctl hook, command, timeout s)."""
    found = []
    table = settings.get("hooks")
    for event, groups in table.items() if isinstance(table, dict) else []:
        for group in groups if isinstance(groups, list) else []:
            entries = group.get("hooks") if isinstance(group, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                name = memctl_hook_name(entry)
                if name is not None:
                    timeout = entry.get("timeout")
                    seconds = float(timeout) if isinstance(timeout, int | float) else None
                    found.append((event, name, entry["command"], seconds or DEFAULT_TIMEOUT_S))
    return found


def snippet(executable: str = "memctl", events: tuple[str, ...] = EVENTS) -> dict[str, Any]:
    """memctl's hooks in Claude Code's settings format (what ``--print`` shows)."""
    return {
        "hooks": {
            event: [
                {
                    "hooks": [
                        {
                            "type": "command",
                            "command": hook_command(executable, name),
                            "timeout": timeout,
                        }
                    ]
                }
            ]
            for event, name, timeout in HOOKS
            if event in events
        }
    }


def _hooks_table(settings: dict[str, Any], path: Path) -> dict[str, Any]:
    table = settings.setdefault("hooks", {})
    if not isinstance(table, dict):
        raise BadInput(f"{path}: 'hooks' is not a JSON object; fix the file first")
    return table


def merge(
    settings: dict[str, Any], executable: str, path: Path, events: tuple[str, ...] = EVENTS
) -> dict[str, Any]:
    """A copy of ``settings`` with memctl's hooks present exactly once each for
    ``events``, and memctl's hooks of the other events taken out."""
    merged, _ = remove(settings, path, keep=events)
    table = _hooks_table(merged, path)
    for event, name, timeout in HOOKS:
        if event not in events:
            continue
        wanted = {"type": "command", "command": hook_command(executable, name), "timeout": timeout}
        groups = table.setdefault(event, [])
        if not isinstance(groups, list):
            raise BadInput(f"{path}: hooks.{event} is not a list; fix the file first")
        found = False
        for group in groups:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                if memctl_hook_name(entry) == name and not found:
                    entries[index] = {**entry, **wanted}
                    found = True
        if not found:
            groups.append({"hooks": [wanted]})
    return merged


def remove(
    settings: dict[str, Any], path: Path, keep: tuple[str, ...] | None = None
) -> tuple[dict[str, Any], int]:
    """A copy of ``settings`` without memctl's hooks, and how many entries went; with
    ``keep`` (installing), only the installed hooks not wanted for those events go."""
    cleaned = copy.deepcopy(settings)
    table = cleaned.get("hooks")
    if table is None:
        return cleaned, 0
    if not isinstance(table, dict):
        raise BadInput(f"{path}: 'hooks' is not a JSON object; fix the file first")
    removed = 0
    for event in list(table):
        groups = table[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list):
                kept_groups.append(group)
                continue
            kept = [entry for entry in entries if not _removable(entry, event, keep)]
            removed += len(entries) - len(kept)
            if kept or len(kept) == len(entries):
                kept_groups.append({**group, "hooks": kept})
        if kept_groups:
            table[event] = kept_groups
        elif groups:
            del table[event]
    if not table and removed:
        del cleaned["hooks"]
    return cleaned, removed


def _removable(entry: Any, event: str, keep: tuple[str, ...] | None) -> bool:
    """Uninstalling (``keep`` None): any memctl hook. Installing: the hooks memctl
    installs, except the one that belongs to a kept event (``memctl hook memory-cleanup``
    that someone added by hand stays)."""
    name = memctl_hook_name(entry)
    if name is None:
        return False
    if keep is None:
        return True
    return name in _HOOK_OF.values() and (event not in keep or name != _HOOK_OF.get(event))


_HOOK_OF = {event: name for event, name, _ in HOOKS}


def load(path: Path) -> dict[str, Any] | None:
    """The settings file's object; None if the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror}") from None
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); nothing changed") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object; nothing changed")
    return data


def render(settings: dict[str, Any]) -> bytes:
    return orjson.dumps(settings, option=orjson.OPT_INDENT_2) + b"\n"


KEEP_BACKUPS = 5  # per settings file; older memctl backups are removed


def backup_folder(path: Path) -> Path:
    """Where backups of ``path`` go: ``<project>/.memctl/backups/`` for a project's
    ``.claude/settings*.json`` and its ``.mcp.json`` (git-ignored with the database,
    docs/hooks.md), else beside the file."""
    if path.parent.name == ".claude":
        return path.parent.parent / DB_DIR / "backups"
    if path.name == ".mcp.json":  # at the project root, usually committed: keep it clean
        return path.parent / DB_DIR / "backups"
    return path.parent


def backup(path: Path, now: float) -> Path:
    """Copy ``path`` as ``<name>.memctl-<UTC time>.bak`` (mode 0600) into its backup
    folder, keeping the newest ``KEEP_BACKUPS`` of that file."""
    folder = backup_folder(path)
    if not folder.is_dir():
        folder.mkdir(parents=True, mode=0o700)
        if folder.parent.name == DB_DIR:
            write_gitignore(folder.parent)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{path.name}.memctl-{stamp}.bak"
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"{path.name}.memctl-{stamp}-{counter}.bak"
    data = path.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    _drop_old_backups(folder, path.name)
    return target


def _drop_old_backups(folder: Path, name: str) -> None:
    """Remove all but the newest ``KEEP_BACKUPS`` memctl backups of ``name``.

    The names sort by time (``%Y%m%dT%H%M%SZ``, then ``-2``, ``-3`` within a second)."""
    pattern = re.compile(re.escape(name) + r"\.memctl-(\d{8}T\d{6}Z)(?:-(\d+))?\.bak")
    found = []
    for candidate in folder.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match:
            found.append((match.group(1), int(match.group(2) or 1), candidate))
    for *_, old in sorted(found)[:-KEEP_BACKUPS]:
        old.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, keeping its mode (0644 when new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.memctl-tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write: {exc.strerror}") from None


def install(
    path: Path, executable: str, now: float, events: tuple[str, ...] = EVENTS
) -> dict[str, Any]:
    """Merge memctl's hooks for ``events`` into ``path``; what happened."""
    current = load(path)
    merged = merge(current or {}, executable, path, events)
    if current is not None and merged == current:
        return {"action": "unchanged", "file": str(path), "backup": None, "events": list(events)}
    saved = backup(path, now) if current is not None else None
    write_atomic(path, render(merged))
    return {
        "action": "created" if current is None else "updated",
        "file": str(path),
        "backup": None if saved is None else str(saved),
        "events": list(events),
    }


def uninstall(path: Path, now: float) -> dict[str, Any]:
    """Take memctl's hooks out of ``path``; what happened."""
    current = load(path)
    if current is None:
        return {"action": "unchanged", "file": str(path), "backup": None, "removed": 0}
    cleaned, removed = remove(current, path)
    if not removed:
        return {"action": "unchanged", "file": str(path), "backup": None, "removed": 0}
    saved = backup(path, now)
    write_atomic(path, render(cleaned))
    return {"action": "updated", "file": str(path), "backup": str(saved), "removed": removed}
