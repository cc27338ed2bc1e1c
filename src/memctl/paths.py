"""Where memctl keeps things: the database (docs/addressing.md) and the memctl home."""

import os
from pathlib import Path

DB_DIR = ".memctl"
DB_NAME = "memory.db"


def resolve_db(explicit: str | None = None, cwd: Path | None = None) -> Path:
    """``--db`` > ``MEMCTL_DB`` > ``$CLAUDE_PROJECT_DIR/.memctl`` > nearest ancestor with
    ``.memctl/`` > ``./.memctl/memory.db``. Always an absolute path."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("MEMCTL_DB")
    if env:
        return Path(env).expanduser().resolve()
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    if project:
        return (Path(project).expanduser() / DB_DIR / DB_NAME).resolve()
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / DB_DIR).is_dir():
            return folder / DB_DIR / DB_NAME
    return start / DB_DIR / DB_NAME


def project_root(cwd: Path | None = None) -> Path:
    """The project a command works for: ``CLAUDE_PROJECT_DIR``, else the current directory."""
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    if project:
        return Path(project).expanduser().resolve()
    return (cwd or Path.cwd()).resolve()


def memctl_home() -> Path:
    """``MEMCTL_HOME`` or ``~/.memctl``: the prepared model and other per-user state."""
    env = os.environ.get("MEMCTL_HOME")
    return Path(env).expanduser().resolve() if env else Path.home() / ".memctl"


def model_cache_dir() -> Path:
    """Where prepared (ONNX) models live: ``MEMCTL_MODEL_DIR`` or ``<home>/models``."""
    env = os.environ.get("MEMCTL_MODEL_DIR")
    return Path(env).expanduser().resolve() if env else memctl_home() / "models"
