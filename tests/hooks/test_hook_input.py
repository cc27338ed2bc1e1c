"""Hook input parsing (claude-flow flags, stdin) and the path lookups session-end uses."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memctl.errors import BadInput
from memctl.hooks.input import HookInput, parse_flags, read_payload
from memctl.store import open_database
from memctl.store.sessions import ids_at_path, ids_under
from tests.conftest import SRC, cli


def test_claude_flow_flags() -> None:
    flags, positionals = parse_flags(
        [
            "--session-id",
            "s-1",
            "--export-metrics",
            "true",
            "--generate-summary=False",
            "--strict",
            "--task-id",
            "t-9",
            "--verbose",
            "--reward",
            "0.5",
            "--offset",
            "-3",
            "stray",
        ]
    )
    assert flags == {
        "session_id": "s-1",
        "export_metrics": True,
        "generate_summary": False,
        "strict": True,
        "task_id": "t-9",
        "verbose": True,
        "reward": "0.5",
        "offset": "-3",
    }
    assert positionals == ["stray"]


def test_switches_do_not_swallow_words_but_take_booleans() -> None:
    flags, positionals = parse_flags(["--strict", "false", "--force", "--json", "text"])
    assert flags == {"strict": False, "force": True, "json": True}
    assert positionals == ["text"]
    assert HookInput({}, {"strict": "yes"}).switch("strict")
    assert not HookInput({}, {"strict": False}).switch("strict")


def test_flags_win_over_stdin_and_blank_means_absent() -> None:
    hook_input = HookInput({"session_id": "from-stdin", "prompt": "  "}, {"session_id": "flag"})
    assert hook_input.session_id == "flag"
    assert hook_input.text("prompt") is None
    assert HookInput({"session_id": "from-stdin"}, {}).session_id == "from-stdin"


def test_read_payload() -> None:
    assert read_payload(io.BytesIO(b"")) == {}
    assert read_payload(io.BytesIO(b"  \n")) == {}
    assert read_payload(io.BytesIO(b'{"a": 1}')) == {"a": 1}
    for bad in (b"{oops", b"[1]", b"\xff\xfe\x00"):
        with pytest.raises(BadInput):
            read_payload(io.BytesIO(bad))


def test_path_lookups_split_every_way_and_treat_text_literally(db_path: Path) -> None:
    for args in (
        ("session/abc", "1"),
        ("-n", "session/abc", "-k", "deep/note", "--value", "2"),
        ("session/abc/x", "3"),
        ("session/abcd", "4"),
        ("session/ab*", "5"),
        ("coordination/abc/t", "6"),
        ("coordination/abc0", "7"),
    ):
        assert cli("store", *args).exit_code == 0
    db = open_database(db_path, create=False)
    try:

        def paths(ids: list[int]) -> list[str]:
            rows = db.all(
                f"SELECT namespace || '/' || key FROM memories WHERE id IN "
                f"({','.join('?' * len(ids))}) ORDER BY 1",
                ids,
            )
            return [row[0] for row in rows]

        assert paths(ids_at_path(db, "default", "session/abc")) == ["session/abc"]
        assert paths(ids_under(db, "default", "session/abc/")) == [
            "session/abc/deep/note",
            "session/abc/x",
        ]
        assert paths(ids_under(db, "default", "coordination/abc/")) == ["coordination/abc/t"]
        assert ids_under(db, "default", "session/a*/") == []
        assert ids_under(db, "other", "session/abc/") == []
    finally:
        db.close()


PROBE = """
import sys
from memctl.cli import main
sys.argv = ["memctl", "hook", sys.argv[1], "--session-id", "probe", "--task-id", "t", "-q"]
try:
    main()
except SystemExit:
    pass
heavy = [m for m in ("numpy", "onnxruntime", "tokenizers", "torch", "sqlalchemy", "rich")
         if m in sys.modules]
print("heavy:" + ",".join(heavy))
"""


@pytest.mark.parametrize("hook", ["session-end", "post-task"])
def test_write_hooks_never_import_the_embedding_stack(hook: str, db_path: Path) -> None:
    assert cli("store", "k/v", "1").exit_code == 0  # the database exists (no migration)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, hook],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "heavy:"
