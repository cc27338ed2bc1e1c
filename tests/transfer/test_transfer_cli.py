"""export/import as real processes: progress bar only on a terminal, stdout streaming,
guards, help."""

import os
import pty
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import SRC, cli, run
from tests.transfer.transfer_testkit import CF, T0, ok, read_export, store


@pytest.fixture
def some(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    for n in range(3):
        store(f"notes/n{n}", f"note {n}")


def _with_terminal_stderr(*args: str) -> tuple[int, str]:
    """Run memctl with stderr on a pseudo-terminal; returns (exit code, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memctl", *args],
        env={**os.environ, "PYTHONPATH": str(SRC), "MEMCTL_NOW": str(T0)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal(some: None, tmp_path: Path) -> None:
    code, terminal = _with_terminal_stderr("export", "-o", str(tmp_path / "a.jsonl"))
    assert code == 0 and "exporting" in terminal
    code, terminal = _with_terminal_stderr("import", str(CF / "v2" / "memory-store.json"))
    assert code == 0 and "importing" in terminal
    code, terminal = _with_terminal_stderr("export", "-o", str(tmp_path / "b.jsonl"), "-q")
    assert code == 0 and "exporting" not in terminal
    piped = run("export", "-o", str(tmp_path / "c.jsonl"), env={"MEMCTL_NOW": str(T0)})
    assert piped.returncode == 0 and piped.stderr == ""  # cron / pipes: no bar


def test_export_streams_to_stdout_in_a_real_process(some: None, tmp_path: Path) -> None:
    result = run("export", env={"MEMCTL_NOW": str(T0)})
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert orjson.loads(lines[0])["counts"]["total"] == 3 and len(lines) == 4
    (tmp_path / "piped.jsonl").write_text(result.stdout)
    _, records = read_export(tmp_path / "piped.jsonl")
    assert [r["value"] for r in records] == ["note 0", "note 1", "note 2"]
    result = cli("export", "--json")
    assert result.exit_code == 2 and "--json needs -o FILE" in result.stderr


def test_export_refuses_to_overwrite_the_database(some: None, db_path: Path) -> None:
    for name in (str(db_path), f"{db_path}-wal"):
        result = cli("export", "-o", name)
        assert result.exit_code == 2 and "is the database itself" in result.stderr
    assert ok(cli("recall", "notes/n0")).stdout == "note 0\n"


def test_help_has_examples() -> None:
    for name in ("export", "import"):
        text = ok(cli(name, "--help")).stdout
        assert "Example: memctl" in text and "--json" in text and "--all-tenants" in text
    assert "--on-conflict" in ok(cli("import", "--help")).stdout
