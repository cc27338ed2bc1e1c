"""`memctl doctor`: one line per check, exit 1 on a problem, and nothing changed."""

import sqlite3
import sys
from pathlib import Path

import orjson
import pytest

from memctl.project.doctor import FAIL, OK, WARN, judge, p95
from tests.conftest import SRC, cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised project (cwd), with `memctl` on PATH running this checkout."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "memctl"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={SRC} exec {sys.executable} -m memctl "$@"\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("MEMCTL_DB")
    monkeypatch.chdir(root)
    assert cli("init", "-q").exit_code == 0
    return root


def checks(*args: str) -> tuple[int, dict[str, dict]]:
    done = cli("doctor", "--json", *args)
    document = orjson.loads(done.stdout)
    assert document["ok"] is (done.exit_code == 0)
    return done.exit_code, {check["name"]: check for check in document["checks"]}


def test_a_fresh_folder_is_told_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMCTL_DB")
    code, found = checks()
    assert code == 1
    assert found["database"]["status"] == FAIL
    assert "no database at" in found["database"]["detail"]
    assert "memctl init" in found["database"]["hint"]
    assert not (tmp_path / ".memctl").exists()  # doctor creates nothing


def test_a_healthy_project_with_hooks(project: Path) -> None:
    assert cli("store", "knowledge/auth/jwt", "tokens rotate on use").exit_code == 0
    # two hooks keep the test short; every installed one is timed the same way
    assert cli("hooks", "install", "--events", "Stop,SessionEnd", "-q").exit_code == 0
    before = (project / ".memctl" / "memory.db").read_bytes()
    code, found = checks("--runs", "2")
    assert code == 0, found
    assert found["memctl on PATH"]["status"] == OK
    database = found["database"]
    assert database["status"] == OK and database["memories"] == 1
    assert "keyword and vector indexes agree" in database["detail"]
    assert found["policies"]["status"] == OK
    assert found["model"]["status"] == OK
    assert found["hooks"]["status"] == OK
    timed = {name: check for name, check in found.items() if name.endswith(")")}
    assert sorted(timed) == ["SessionEnd hook (session-end)", "Stop hook (post-task)"]
    assert timed["SessionEnd hook (session-end)"]["limit_s"] == 1.5
    assert all(check["runs"] == 2 and check["p95_s"] > 0 for check in timed.values())
    # the hooks ran on a copy: the project's database is byte for byte the same
    assert (project / ".memctl" / "memory.db").read_bytes() == before
    human = cli("doctor", "--runs", "0")
    assert human.exit_code == 0
    assert human.stdout.splitlines()[0].startswith("ok    memctl on PATH: ")


def test_problems_are_found_and_fail(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("store", "notes/a", "one two").exit_code == 0
    conn = sqlite3.connect(project / ".memctl" / "memory.db")
    conn.execute("DELETE FROM memories_fts")  # the keyword index loses its row
    conn.commit()
    conn.close()
    (project / "policies.yaml").write_text("version: 2\n")
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    command = "/no/such/memctl hook session-end"
    settings.write_text(orjson.dumps({"hooks": {"SessionEnd": [{"hooks": [
        {"type": "command", "command": command}]}]}}).decode())  # fmt: skip
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, found = checks()
    assert code == 1
    assert found["memctl on PATH"]["status"] == FAIL
    assert "indexes disagree: keyword 0 rows for 1 memories" in found["database"]["detail"]
    assert found["policies"]["status"] == FAIL
    assert "policies.yaml:1: version" in found["policies"]["detail"]
    assert found["model"]["status"] == WARN  # cannot tell without valid policies
    assert found["hooks"]["status"] == FAIL
    assert command in found["hooks"]["detail"]


def test_no_hooks_installed_is_a_warning_not_a_failure(project: Path) -> None:
    code, found = checks()
    assert code == 0
    assert found["hooks"]["status"] == WARN
    assert "memctl hooks install" in found["hooks"]["hint"]


@pytest.mark.parametrize(
    ("event", "timeout", "samples", "status"),
    [
        ("SessionEnd", 5, [0.2, 0.3, 1.6], FAIL),  # killed at 1.5 s whatever the timeout
        ("SessionEnd", 5, [0.2, 0.8], WARN),
        ("SessionEnd", 5, [0.2, 0.3], OK),
        ("UserPromptSubmit", 10, [2.0, 6.0], WARN),
        ("UserPromptSubmit", 10, [12.0], FAIL),
        ("Stop", 60, [1.0], OK),
    ],
)
def test_latency_is_judged_against_claude_codes_limits(
    event: str, timeout: float, samples: list[float], status: str
) -> None:
    assert judge(event, "x", timeout, samples).status == status


def test_p95_is_nearest_rank() -> None:
    assert p95([0.1, 0.5, 0.2, 0.3, 0.4]) == 0.5
    assert p95([float(n) for n in range(1, 101)]) == 95.0
