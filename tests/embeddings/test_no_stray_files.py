"""Commands that load the model write nothing outside the database's folder and the
memctl home (docs/reliability.md): ONNX Runtime's telemetry files (a device id and an
event database under ~/.cache/Microsoft, a session file in $TMPDIR) stay switched off."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import MODEL_DIR, SRC

pytestmark = pytest.mark.model


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_model_using_commands_write_only_to_the_db_folder_and_memctl_home(
    tmp_path: Path,
) -> None:
    root = tmp_path / "sandbox"
    home, temp, project = root / "home", root / "tmp", root / "project"
    for folder in (home, temp, project):
        folder.mkdir(parents=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("XDG_", "ORT_", "MEMCTL_"))
    }
    env.update(
        PYTHONPATH=str(SRC),
        HOME=str(home),
        TMPDIR=str(temp),
        MEMCTL_DB=str(root / "data" / "memory.db"),
        MEMCTL_HOME=str(root / "memctl-home"),
        MEMCTL_MODEL_DIR=MODEL_DIR,  # the prepared model, only read
        CLAUDE_PROJECT_DIR=str(project),
    )

    def memctl(*args: str, payload: object = None) -> None:
        data = None if payload is None else orjson.dumps(payload).decode()
        proc = subprocess.run(  # the exact environment above, nothing inherited on top
            [sys.executable, "-m", "memctl", *args],
            input=data,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, (args, proc.stderr)

    memctl("store", "knowledge/ci/cache", "cache the pip wheels between pipeline runs")
    memctl("search", "speed up the build", "--json")
    memctl(
        "hook",
        "pre-task",
        payload={"prompt": "make the build faster", "session_id": "s1", "cwd": str(project)},
    )
    memctl("store", "knowledge/db/choice", "sqlite with the vec extension")
    memctl("reindex", "--all", "--json")
    memctl("store", "knowledge/auth/rotation", "refresh tokens rotate on every use")
    memctl("daemon", "--once", "--json")

    written = _files(root)
    stray = [f for f in written if not f.startswith(("data/", "memctl-home/"))]
    assert stray == [], stray
    assert "data/memory.db" in written
