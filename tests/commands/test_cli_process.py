"""memctl as hooks and cron run it: a real process, the installed console script too."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from tests.conftest import SRC, run


def installed_memctl() -> str:
    """The console script installed next to this interpreter (the README's venv)."""
    candidate = Path(sys.executable).parent / "memctl"
    found = str(candidate) if candidate.exists() else shutil.which("memctl")
    assert found, "memctl console script is not installed"
    return found


def test_installed_console_script_stores_and_recalls(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    exe = installed_memctl()
    stored = subprocess.run(
        [exe, "store", "knowledge/x", '{"v": 1}'], capture_output=True, text=True, env=env
    )
    assert stored.returncode == 0, stored.stderr
    recalled = subprocess.run(
        [exe, "recall", "knowledge/x", "--json"], capture_output=True, text=True, env=env
    )
    assert orjson.loads(recalled.stdout)["value"] == {"v": 1}
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, env=env)
    assert version.stdout.startswith("memctl ")


def test_same_database_from_any_subdirectory(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "a" / "b").mkdir(parents=True)
    env = {"MEMCTL_DB": ""}
    env_clean = {k: v for k, v in os.environ.items() if k != "MEMCTL_DB"}
    first = subprocess.run(
        [sys.executable, "-m", "memctl", "store", "k/v", "1"],
        cwd=project,
        env={**env_clean, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
    )
    assert first.returncode == 0, first.stderr
    assert (project / ".memctl" / "memory.db").exists()
    deep = subprocess.run(
        [sys.executable, "-m", "memctl", "recall", "k/v"],
        cwd=project / "a" / "b",
        env={**env_clean, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
    )
    assert deep.stdout == "1\n"
    via_env = run("recall", "k/v", env={**env, "CLAUDE_PROJECT_DIR": str(project)})
    assert via_env.stdout == "1\n"


def test_usage_errors_are_one_line_exit_2() -> None:
    result = run("store", "--no-such-flag")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "No such option" in result.stderr
    assert run("frobnicate").returncode == 2


def test_invalid_utf8_argument_is_refused(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"memctl", b"store", b"bad/key", b"\xff\xfe"],
        capture_output=True,
        env=env,
    )
    assert result.returncode == 2
    assert b"not valid UTF-8" in result.stderr
    assert b"Traceback" not in result.stderr


def test_quiet_prints_nothing_on_success() -> None:
    result = run("store", "q/x", "1", "-q")
    assert result.returncode == 0 and result.stdout == ""


def test_no_color_and_non_tty_output_has_no_escape_codes() -> None:
    run("store", "c/x", "1")
    result = run("list", env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.stdout and "c/x" in result.stdout


def test_command_map_matches_what_the_modules_register() -> None:
    import importlib

    from memctl.cli import COMMAND_MODULES, MODULES

    registered = {}
    for name in MODULES:
        module = importlib.import_module(f"memctl.commands.{name}")
        for info in module.app.registered_commands:
            registered[info.name] = name
        for group_name, _ in getattr(module, "groups", []):
            registered[group_name] = name
    assert registered == COMMAND_MODULES


def test_a_command_imports_only_its_own_module() -> None:
    assert run("store", "k/v", "1").returncode == 0  # the database exists and is migrated
    probe = (
        "import sys\n"
        "sys.argv = ['memctl', 'recall', 'k/v']\n"
        "from memctl.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('memctl.commands.'))\n"
        "heavy = [m for m in ('sqlalchemy', 'numpy', 'rich', 'onnxruntime', 'mcp', 'pydantic') "
        "if m in sys.modules]\n"
        "print(loaded, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    expected = "['memctl.commands.common', 'memctl.commands.memory'] []"
    assert result.stdout.splitlines()[-1] == expected
