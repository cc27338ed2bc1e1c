"""``memctl init``: set a project up (docs/addressing.md).

- ``<root>/.memctl/`` (mode 0700) with its ``.gitignore``;
- a policies file to edit, when the project has none: ``<root>/policies.yaml``, or
  ``<root>/.claude/memory-retention-policies.yaml`` (``claude=True``), a copy of the
  packaged defaults;
- ``.memctl/config.yaml`` with ``db:`` and/or ``tenant:`` when they are given;
- the database itself (empty, current schema), so cron and the maintenance commands,
  which never create one, work from the first run.

Everything already there is kept; running it again changes nothing.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memctl.errors import BadInput
from memctl.lifecycle.policies import PACKAGED_POLICIES, find_policies_file
from memctl.paths import (
    CONFIG_NAME,
    DB_DIR,
    Location,
    ServerUrl,
    read_config,
    write_gitignore,
)


@dataclass
class InitReport:
    root: Path
    root_source: str
    database: Location
    policies: Path
    config: Path | None
    created: list[str] = field(default_factory=list)  # paths, relative to the root
    kept: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.root),
            "found_by": self.root_source,
            "database": str(self.database),
            "policies": str(self.policies),
            "config": None if self.config is None else str(self.config),
            "created": self.created,
            "kept": self.kept,
        }


def shown(path: Location, root: Path) -> str:
    """A file relative to the project root when inside it; a URL masked."""
    if not isinstance(path, Path):
        return str(path)
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def config_text(values: dict[str, str]) -> str:
    lines = [
        "# memctl settings for this project (docs/addressing.md). Both keys are optional:",
        "#   db: the database file (relative to the project root), or a PostgreSQL hub's",
        "#       postgresql:// URL, instead of .memctl/memory.db; --db and MEMCTL_DB still win",
        "#   tenant: the tenant commands use here; --tenant and MEMCTL_TENANT still win",
    ]
    lines += [f"{key}: {_scalar(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _scalar(value: str) -> str:
    """``value`` as YAML: as it is when YAML reads it back unchanged, else quoted (a URL
    with ``#`` or ``: `` in it; JSON's double quotes are YAML's too)."""
    import json

    import yaml

    try:
        if yaml.safe_load(f"k: {value}") == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value)


def init_project(
    root: Path,
    root_source: str,
    policies_option: str | None,
    *,
    claude: bool = False,
    db: Location | None = None,
    tenant: str | None = None,
) -> InitReport:
    """Create what the project at ``root`` lacks (see the module docstring), then its
    database as every command will find it; what was made and what was kept."""
    if isinstance(db, ServerUrl) and db.secrets:
        # config.yaml may be committed (the .gitignore leaves it in): no secret goes there
        raise BadInput(
            f"--db {db.masked} holds a password, which would be written to "
            f"{DB_DIR}/{CONFIG_NAME}: leave it out of the URL and give it through "
            "PGPASSWORD or ~/.pgpass"
        )
    folder = root / DB_DIR
    report = InitReport(root, root_source, Path(), Path(), None)

    def note(path: Location, made: bool, suffix: str = "") -> None:
        (report.created if made else report.kept).append(shown(path, root) + suffix)

    made_folder = not folder.is_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (report.created if made_folder else report.kept).append(f"{DB_DIR}/")
    note(folder / ".gitignore", write_gitignore(folder))

    policies = find_policies_file(policies_option, root)
    if policies == PACKAGED_POLICIES:
        policies = root / (".claude/memory-retention-policies.yaml" if claude else "policies.yaml")
        policies.parent.mkdir(parents=True, exist_ok=True)
        write_new(policies, PACKAGED_POLICIES.read_text(encoding="utf-8"), 0o644)
        note(policies, True)
    else:
        note(policies, False)
    report.policies = policies

    config = folder / CONFIG_NAME
    existed = config.exists()
    values = read_config(config)
    recorded = db.url if isinstance(db, ServerUrl) else None if db is None else shown(db, root)
    wanted = {"db": recorded, "tenant": tenant}
    changes = {key: value for key, value in wanted.items() if value and values.get(key) != value}
    if changes:
        write_replace(config, config_text({**values, **changes}))
        note(config, True, " (updated)" if existed else "")
    elif existed:
        note(config, False)
    report.config = config if config.exists() else None

    from memctl.paths import resolve_project
    from memctl.store import open_database

    database = resolve_project(None, start=root).db
    if isinstance(database, Path):
        made_db = not database.exists()
    else:  # a PostgreSQL database: "made" when memctl's tables were not there yet
        from memctl.store.opening import schema_status

        made_db = schema_status(database).current == 0
    open_database(database, create=True).close()
    note(database, made_db)
    report.database = database
    return report


def write_new(path: Path, text: str, mode: int) -> None:
    """Write a file that must not exist yet (never overwrite a user's file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_replace(path: Path, text: str) -> None:
    """Replace ``path`` in one rename."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)
