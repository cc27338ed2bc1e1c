"""The shipped cron and systemd examples work as shipped once their one path is set: run
here the way cron and systemd run them (a bare environment, PATH=/usr/bin:/bin, the home
folder as working directory), through the ~/.local/bin/memctl link setup.sh makes."""

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memctl.store import log, open_database
from tests.conftest import SRC

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SERVICE = SCRIPTS / "systemd" / "memctl-maintenance.service"
TIMER = SCRIPTS / "systemd" / "memctl-maintenance.timer"
SERVE = SCRIPTS / "systemd" / "memctl-serve.service"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*$")
CRON_ENV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
T0 = 1_780_000_000
# The project's own policies: found next to the database, never in the cwd (cron's cwd
# is home). `tmp/*` lives a minute, so a cleanup run shows they were read.
POLICIES = """version: 1
namespaces:
  - {namespace: "tmp/*", ttl_seconds: 60, cleanup_strategy: scheduled}
embedding: {model: none}
"""


def cron_file() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The crontab's variable lines and its (schedule, command) lines."""
    variables, jobs = {}, []
    for line in (SCRIPTS / "crontab.example").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := CRON_ENV.match(line):
            variables[match.group(1)] = match.group(2)
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, line
        jobs.append((" ".join(fields[:5]), fields[5]))
    return variables, jobs


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder whose ~/.local/bin/memctl runs this checkout (what setup.sh links)."""
    home = tmp_path / "home"
    link = home / ".local" / "bin" / "memctl"
    link.parent.mkdir(parents=True)
    link.write_text(f'#!/bin/sh\nPYTHONPATH={SRC} exec {sys.executable} -m memctl "$@"\n')
    link.chmod(0o755)
    return home


def make_project(root: Path) -> Path:
    """A project with its policies and one memory in ``tmp/`` stored at T0."""
    (root / ".git").mkdir(parents=True)
    (root / "policies.yaml").write_text(POLICIES)
    done = subprocess.run(
        [sys.executable, "-m", "memctl", "store", "tmp/scratch", "1"],
        cwd=root,
        env={
            **{k: v for k, v in os.environ.items() if k != "MEMCTL_DB"},
            "PYTHONPATH": str(SRC),
            "MEMCTL_NOW": str(T0),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    db = root / ".memctl" / "memory.db"
    assert db.is_file()
    return db


def bare_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """What cron and systemd give a job: HOME, a minimal PATH, nothing of ours."""
    return {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "SHELL": "/bin/sh",
        "LOGNAME": "memctl-test",
        "MEMCTL_HOME": str(home / ".memctl"),
        "MEMCTL_NOW": str(T0 + 120),  # two minutes later: tmp/scratch has expired
        **extra,
    }


def daemon_jobs(db: Path) -> list[str]:
    database = open_database(db, create=False)
    try:
        rows = log.recent(database, limit=100, action="daemon")
    finally:
        database.close()
    assert all(row["outcome"] == "ok" for row in rows), rows
    return sorted(row["details"]["job"] for row in rows)


def archived(db: Path) -> int:
    database = open_database(db, create=False)
    try:
        return int(database.execute("SELECT count(*) FROM archive").fetchone()[0])
    finally:
        database.close()


def test_crontab_lines_are_valid_cron_and_name_the_executable_and_database() -> None:
    variables, jobs = cron_file()
    assert list(variables) == ["MEMCTL_DB"]  # the one path to set
    assert variables["MEMCTL_DB"].startswith("/")  # cron does not expand variables
    limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for when, command in jobs:
        for field, (low, high) in zip(when.split(), limits, strict=True):
            assert CRON_FIELD.match(field), (field, when)
            for number in re.findall(r"\d+", field.split("/")[0]):
                assert low <= int(number) <= high, when
        assert command.startswith("$HOME/.local/bin/memctl daemon --once"), command
        assert "cd " not in command


def test_crontab_runs_as_cron_runs_it(home: Path, tmp_path: Path) -> None:
    db = make_project(tmp_path / "srv" / "acme-api")
    variables, jobs = cron_file()
    variables["MEMCTL_DB"] = str(db)  # set the one path
    for _, command in jobs:
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=home,
            env=bare_env(home, variables),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), command
    assert daemon_jobs(db) == sorted(
        ["cleanup", "embed", "decay", "promote", "snapshot", "prune", "compact"]
    )
    assert archived(db) == 1  # the project's policies expired tmp/scratch
    assert not (home / ".memctl" / "memory.db").exists()


def test_crontab_with_the_path_not_set_fails_loudly(home: Path) -> None:
    variables, jobs = cron_file()
    done = subprocess.run(
        ["/bin/sh", "-c", jobs[0][1]],
        cwd=home,
        env=bare_env(home, variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"no memctl database at {variables['MEMCTL_DB']} (from MEMCTL_DB)" in done.stderr
    assert not Path(variables["MEMCTL_DB"]).exists()


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_systemd_units_parse() -> None:
    service, timer = unit(SERVICE), unit(TIMER)
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"] == "%h/.local/bin/memctl daemon --once --all-tenants -q"
    assert service["Service"]["Environment"].startswith("MEMCTL_DB=%h/")
    assert "WorkingDirectory" not in service["Service"]
    assert timer["Timer"]["Unit"] == SERVICE.name
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_service_runs_as_shipped(home: Path) -> None:
    """ExecStart and Environment with %h = home, as `systemctl --user` runs them; the
    shipped path is used as it is (the project is made where it points)."""
    service = unit(SERVICE)["Service"]
    name, value = service["Environment"].replace("%h", str(home)).split("=", 1)
    db = make_project(Path(value).parent.parent)
    assert Path(value) == db
    argv = shlex.split(service["ExecStart"].replace("%h", str(home)))
    done = subprocess.run(
        argv, cwd="/", env=bare_env(home, {name: value}), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert len(daemon_jobs(db)) == 7
    assert archived(db) == 1


def test_the_serve_unit_names_the_executable_and_the_database() -> None:
    service = unit(SERVE)["Service"]
    assert service["Type"] == "simple" and service["KillSignal"] == "SIGTERM"
    assert service["ExecStart"] == "%h/.local/bin/memctl serve --host 127.0.0.1 --port 8765"
    assert service["Environment"].startswith("MEMCTL_DB=%h/")
    assert unit(SERVE)["Install"]["WantedBy"] == "default.target"


def test_the_serve_unit_runs_as_shipped(home: Path) -> None:
    """ExecStart as `systemctl --user` runs it (on any free port here: 8765 may be
    taken on a test machine); it serves the database and stops with exit 0 on SIGTERM,
    as systemd stops it."""
    import signal

    service = unit(SERVE)["Service"]
    name, value = service["Environment"].replace("%h", str(home)).split("=", 1)
    db = make_project(Path(value).parent.parent)
    argv = shlex.split(service["ExecStart"].replace("%h", str(home)).replace("8765", "0"))
    proc = subprocess.Popen(
        argv, cwd="/", env=bare_env(home, {name: value}), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert f"for {db}" in line, line
    url = line.split("listening on ", 1)[1].split()[0]
    import httpx

    assert httpx.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"
    assert Path(f"{db}.sock").exists()
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify(home: Path, tmp_path: Path) -> None:
    exe = str(home / ".local" / "bin" / "memctl")
    for source in (SERVICE, TIMER, SERVE):
        text = source.read_text().replace("%h/.local/bin/memctl", exe)
        (tmp_path / source.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", SERVICE.name, TIMER.name, SERVE.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
