"""Where memctl keeps things (docs/addressing.md): the project root, its database and
config, and the memctl home. One resolver, :func:`resolve_project`, serves every command
and hook, so a shell, a hook and a cron line in the same project find the same file."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from memctl.errors import BadInput

DB_DIR = ".memctl"
DB_NAME = "memory.db"
CONFIG_NAME = "config.yaml"
PROJECT_MARKERS = (DB_DIR, ".claude", ".git")
CONFIG_KEYS = ("db", "tenant")
PACKAGED_POLICIES = Path(__file__).resolve().parent / "policies.yaml"
# What `.memctl/.gitignore` says: everything in the folder is local state (the database,
# its -wal/-shm files, the daemon lock, settings backups) except the shared config.
GITIGNORE = (
    "# Written by memctl: the database, its WAL files, the daemon lock and backups of\n"
    "# .claude/settings.json are local state. config.yaml may be committed.\n"
    "*\n"
    "!.gitignore\n"
    f"!{CONFIG_NAME}\n"
)


URL_SCHEMES = ("postgresql://", "postgres://")
_SECRET_PARAMS = ("password", "sslpassword")


@dataclass(frozen=True)
class ServerUrl:
    """A PostgreSQL database given as a libpq URL (``postgresql://USER@HOST/DB``).

    ``str()`` and ``repr()`` give the URL with any password replaced by ``***``, so a
    message, a report or a traceback that names the database never shows one; only
    ``url`` (what the driver connects with) holds it. Passwords are better kept out of
    the URL altogether: libpq reads ``PGPASSWORD`` and ``~/.pgpass``.
    """

    url: str

    @property
    def masked(self) -> str:
        return mask_url(self.url)

    @property
    def secrets(self) -> list[str]:
        """The password(s) in the URL, to scrub from any text a server or driver returns."""
        parts = urlsplit(self.url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k in _SECRET_PARAMS and v]
        return found

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"ServerUrl({self.masked!r})"


def is_server_url(text: str) -> bool:
    return text.strip().lower().startswith(URL_SCHEMES)


def mask_url(url: str) -> str:
    """``url`` with the password of its user part and any ``password=`` parameter
    replaced by ``***`` (the rest, host and database included, kept for diagnosis)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        name, colon, password = user.partition(":")
        if colon and password:
            user = f"{name}:***"
        netloc = f"{user}@{host}"
    query = parts.query
    if any(k in _SECRET_PARAMS for k, _ in parse_qsl(query, keep_blank_values=True)):
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in pairs], safe="/*")
    # written out: urlunsplit drops the "//" of an empty host ("postgresql:///db?host=...")
    text = f"{parts.scheme}://{netloc}{parts.path}"
    text += f"?{query}" if query else ""
    return text + (f"#{parts.fragment}" if parts.fragment else "")


# Where a database lives: a SQLite file, or a PostgreSQL database on a server.
Location = Path | ServerUrl


def parse_location(text: str, base: Path | None = None) -> Location:
    """A ``--db`` / ``MEMCTL_DB`` / ``db:`` value: a PostgreSQL URL as given, else a
    file path (relative ones from ``base``, default the current directory)."""
    if is_server_url(text):
        return ServerUrl(text.strip())
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path.resolve()


@dataclass(frozen=True)
class Project:
    """A resolved project: its root, database and ``.memctl/config.yaml`` settings.

    ``db_source`` says which rule gave the database: ``--db``, ``MEMCTL_DB``,
    ``config.yaml`` or ``project``; ``root_source`` which gave the root.
    """

    root: Path
    db: Location
    db_source: str
    root_source: str
    tenant: str | None = None  # ``tenant:`` of config.yaml, if set

    @property
    def config_file(self) -> Path:
        return self.root / DB_DIR / CONFIG_NAME

    def describe_db(self) -> str:
        """How the database was found, for messages: ``--db``, ``config.yaml``, ..."""
        if self.db_source == "project":
            return f"the project at {self.root} ({self.root_source})"
        if self.db_source == "config.yaml":
            return str(self.config_file)
        return self.db_source


def project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of ``start`` (default: the current directory), itself
    included, with a ``.memctl/``, ``.claude/`` or ``.git/`` folder; ``start`` if none.

    The home folder is never a project by its markers: ``~/.claude`` is Claude Code's
    per-user folder and ``~/.memctl`` memctl's home, so the walk stops below it (else
    every folder under home without markers would share one database in ``~/.memctl``).
    """
    found = _find_root(start)
    return found[0]


def _find_root(start: Path | None) -> tuple[Path, str]:
    origin = (start or Path.cwd()).expanduser().resolve()
    home = _home()
    for folder in (origin, *origin.parents):
        if folder == home:
            break
        for marker in PROJECT_MARKERS:
            if (folder / marker).is_dir():
                return folder, f"the nearest folder with {marker}/"
    return origin, "no .memctl/, .claude/ or .git/ here or above: the current folder"


def locate_root(start: Path | None = None) -> tuple[Path, str]:
    """The project root and how it was found: ``CLAUDE_PROJECT_DIR`` (Claude Code sets
    it to the project), else :func:`project_root` of ``start``."""
    if os.environ.get("CLAUDE_PROJECT_DIR"):
        return Path(os.environ["CLAUDE_PROJECT_DIR"]).expanduser().resolve(), "CLAUDE_PROJECT_DIR"
    return _find_root(start)


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None


def resolve_project(db_option: str | None = None, start: Path | None = None) -> Project:
    """The project a command works on, and its database.

    Database: ``--db`` > ``MEMCTL_DB`` > ``db:`` in ``<root>/.memctl/config.yaml`` >
    ``<root>/.memctl/memory.db``. Root: the project holding an explicit database that
    sits in a ``.memctl/`` folder (so a cron line naming the database gets that
    project's policies), else ``CLAUDE_PROJECT_DIR``, else :func:`project_root` of
    ``start`` (the current directory, or a hook payload's ``cwd``).
    """
    explicit, source = db_option, "--db"
    if not explicit:
        explicit, source = os.environ.get("MEMCTL_DB"), "MEMCTL_DB"
    db = parse_location(explicit) if explicit else None
    if isinstance(db, Path) and db.parent.name == DB_DIR:
        root, root_source = db.parent.parent, f"the folder holding {DB_DIR}/{db.name}"
    else:
        root, root_source = locate_root(start)
    config = read_config(root / DB_DIR / CONFIG_NAME)
    if db is None and "db" in config:
        db, source = parse_location(config["db"], root), "config.yaml"
    elif db is None:
        db, source = root / DB_DIR / DB_NAME, "project"
    return Project(root, db, source, root_source, config.get("tenant"))


def read_config(path: Path) -> dict[str, str]:
    """``.memctl/config.yaml``: optional ``db:`` and ``tenant:`` (strings); {} if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # a python/custom tag too: SafeLoader never builds it
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f": {problem}" if problem else ""
        raise BadInput(f"{path}{where}: not valid YAML{detail}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a tagged value: !!int abc
        raise BadInput(f"{path}: a value cannot be read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping with {' and/or '.join(CONFIG_KEYS)}")
    problems = [
        f"unknown key {key!r} (known: {', '.join(CONFIG_KEYS)})"
        for key in data
        if key not in CONFIG_KEYS
    ]
    problems += [
        f"{key}: must be a non-empty string"
        for key in CONFIG_KEYS
        if key in data and (not isinstance(data[key], str) or not data[key].strip())
    ]
    if problems:
        raise BadInput(f"{path}: " + "; ".join(problems))
    return {key: str(data[key]).strip() for key in CONFIG_KEYS if key in data}


def write_gitignore(folder: Path) -> bool:
    """Give a ``.memctl/`` folder its ``.gitignore`` unless it has one; True if written."""
    target = folder / ".gitignore"
    if target.exists():
        return False
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(GITIGNORE)
    return True


def resolve_db(explicit: str | None = None, cwd: Path | None = None) -> Location:
    """The database :func:`resolve_project` finds (an absolute path)."""
    return resolve_project(explicit, cwd).db


def memctl_home() -> Path:
    """``MEMCTL_HOME`` or ``~/.memctl``: the prepared model and other per-user state."""
    env = os.environ.get("MEMCTL_HOME")
    return Path(env).expanduser().resolve() if env else Path.home() / ".memctl"


def model_cache_dir() -> Path:
    """Where prepared (ONNX) models live: ``MEMCTL_MODEL_DIR`` or ``<home>/models``."""
    env = os.environ.get("MEMCTL_MODEL_DIR")
    return Path(env).expanduser().resolve() if env else memctl_home() / "models"


def find_policies_file(explicit: str | None, project: Path) -> Path:
    """``--policies`` > ``MEMCTL_POLICIES`` > ``<project>/.claude/memory-retention-policies.yaml``
    > ``<project>/policies.yaml`` > the packaged defaults."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("MEMCTL_POLICIES")
    if env:
        return Path(env).expanduser().resolve()
    for candidate in (
        project / ".claude" / "memory-retention-policies.yaml",
        project / "policies.yaml",
    ):
        if candidate.is_file():
            return candidate
    return PACKAGED_POLICIES
