"""Shared fixtures: every test gets its own database, home and working directory."""

import os

# as memctl.embeddings.onnx does for the commands: single-threaded OpenBLAS for the
# small matrix products of search (the test modules import numpy before it would)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click.testing
import pytest
import typer.main

from memctl.cli import app
from memctl.paths import Location, ServerUrl

SRC = Path(__file__).resolve().parent.parent / "src"
# Test data lives in the repository (tests/fixtures/README.md says where each file came
# from); a clone with nothing beside it must pass.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The ONNX export prepared by scripts/setup.sh (`memctl model prepare`), shared by tests.
MODEL_DIR = os.environ.get("MEMCTL_MODEL_DIR") or str(Path.home() / ".memctl" / "models")
_CLEARED = (
    "MEMCTL_NOW",
    "MEMCTL_POLICIES",
    "MEMCTL_TENANT",
    "MEMCTL_WARM",
    "CLAUDE_PROJECT_DIR",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def memctl_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private database, memctl home and cwd; the shared prepared model."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEMCTL_DB", str(tmp_path / "memctl.db"))
    monkeypatch.setenv("MEMCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEMCTL_MODEL_DIR", MODEL_DIR)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def db_path(memctl_env: Path, request: pytest.FixtureRequest) -> Any:
    """The test's database: its SQLite file, or with ``backend`` the backend's database."""
    if "backend" in request.fixturenames:
        return request.getfixturevalue("backend")
    return memctl_env / "memctl.db"


# Both engines, for the tests that define behaviour (docs/storage.md): a test that takes
# ``backend`` (or ``db_path`` next to it) runs once on a SQLite file and once on its own
# PostgreSQL database; MEMCTL_DB points at it, so subprocesses use it too.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The session's PostgreSQL (tests/pg_server.py); MEMCTL_TEST_PG=0 skips its tests."""
    if os.environ.get("MEMCTL_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests are off (MEMCTL_TEST_PG=0)")
    from tests import pg_server as server

    yield from server.start()


@pytest.fixture
def pg_database(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerUrl]:
    """A fresh, migrated PostgreSQL database of the test's own (MEMCTL_DB points at it)."""
    name, url = pg_server.new_database()
    monkeypatch.setenv("MEMCTL_DB", url)
    yield ServerUrl(url)
    pg_server.drop(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, memctl_env: Path) -> Location:
    if request.param == "sqlite":
        return memctl_env / "memctl.db"
    location: Location = request.getfixturevalue("pg_database")
    return location


# Typer's CliRunner rebuilds the click command from the app on every call (~15 ms, most
# of a small in-process run); the command is built once here and reused.
COMMAND = typer.main.get_command(app)
_runner = click.testing.CliRunner()


def cli(*args: str, input: str | bytes | None = None) -> Any:
    """Run memctl in-process (click's CliRunner on the full app); returns the Result."""
    return _runner.invoke(COMMAND, list(args), input=input, catch_exceptions=False)


def python(
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter as a real process with this checkout's src importable."""
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run(
        [sys.executable, *args],
        input=input.decode() if isinstance(input, bytes) else input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def run(
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run memctl as a real process (``python -m memctl`` from this checkout's src)."""
    return python("-m", "memctl", *args, input=input, env=env, timeout=timeout)
