"""The model's first use says so on stderr; a hook that has to match by keyword only says
so in one stderr line (stdout stays Claude Code's JSON) and is recorded for stats."""

import shutil
from pathlib import Path

import orjson
import pytest

from memctl.daemon.jobs import REGISTRY, JobCall
from memctl.embeddings import DEFAULT_MODEL, onnx
from memctl.embeddings.model_files import ONNX_NAME, prepared_dir
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.search.health import WINDOW_S, keyword_fallbacks, record_keyword_fallback
from memctl.store import log, open_database
from tests.conftest import MODEL_DIR, cli, run

T0 = 1_800_000_000.0
PROMPT = {
    "session_id": "s-1",
    "cwd": ".",
    "hook_event_name": "UserPromptSubmit",
    "prompt": "how do we rotate refresh tokens",
}


@pytest.fixture
def unprepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine where the model was never prepared: an empty model cache."""
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("MEMCTL_MODEL_DIR", str(empty))
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    return empty


def hook_pre_task(**env: str) -> tuple[dict, list[str]]:
    result = run("hook", "pre-task", input=orjson.dumps(PROMPT).decode(), env=env)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout), result.stderr.splitlines()


def test_hook_falls_back_in_one_stderr_line_and_is_counted(unprepared: Path, db_path: Path) -> None:
    assert cli("store", "knowledge/auth/rotation", "refresh tokens rotate on use").exit_code == 0
    document, errors = hook_pre_task()
    assert document["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "knowledge/auth/rotation" in document["hookSpecificOutput"]["additionalContext"]
    assert len(errors) == 1
    assert "matched by keyword only" in errors[0] and "memctl model prepare" in errors[0]
    hook_pre_task()  # a second prompt: counted into the same log row
    db = open_database(db_path, create=False)
    try:
        rows = log.recent(db, action=log.KEYWORD_FALLBACK)
    finally:
        db.close()
    assert len(rows) == 1 and rows[0]["count"] == 2
    stats = orjson.loads(cli("stats", "--json").stdout)
    assert stats["model_prepared"] is False
    assert stats["keyword_fallbacks"]["count"] == 2
    assert stats["keyword_fallbacks"]["reason"] == "not prepared"
    assert "keyword-fallback" not in [job["action"] for job in stats["jobs"]]
    human = cli("stats").stdout
    assert "not prepared (run: memctl model prepare)" in human
    assert "2 hook call(s) in 7 days matched by keyword only" in human


def test_quiet_hook_prints_nothing_on_stderr(unprepared: Path) -> None:
    result = run("hook", "pre-task", "-q", input=orjson.dumps(PROMPT).decode())
    assert result.returncode == 0 and result.stderr == ""


def test_a_model_that_fails_to_load_is_reported_as_such(
    unprepared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = prepared_dir(DEFAULT_MODEL)
    folder.mkdir(parents=True)
    (folder / ONNX_NAME).write_bytes(b"not an onnx graph")
    (folder / "tokenizer.json").write_text("{}")
    _, errors = hook_pre_task()
    assert len(errors) == 1 and "the embedding model failed to load:" in errors[0]


def test_fallbacks_are_counted_per_hour_window(db_path: Path) -> None:
    db = open_database(db_path, create=True)
    try:
        for offset in (0, 60, WINDOW_S + 1, WINDOW_S + 2):
            record_keyword_fallback(db, "default", T0 + offset, "pre-task", "not prepared")
        with db.read():
            rows = log.recent(db, action=log.KEYWORD_FALLBACK)
        assert [row["count"] for row in rows] == [2, 2]
        everything = keyword_fallbacks(db, None, since=T0)
        assert everything.count == 4 and everything.last_at == T0 + WINDOW_S + 2
        assert keyword_fallbacks(db, None, since=T0 + 10).count == 2  # rows after `since`
        assert keyword_fallbacks(db, "other-tenant", since=T0).count == 0
    finally:
        db.close()


@pytest.fixture
def quick_export(unprepared: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The one-off export replaced by a copy of the export this machine already has
    (the real one takes 10-30 s); everything after it is the real model."""
    calls: list[str] = []

    def copy_prepared(model: str) -> Path:
        calls.append(model)
        source = Path(MODEL_DIR)
        # any export of this model will do: a machine that prepared it from more than
        # one source folder (another HOME, a worktree) has several
        folder = next(
            p
            for p in sorted(source.iterdir())
            if p.name.startswith(f"{model}-") and (p / ONNX_NAME).is_file()
        )
        target = prepared_dir(model)
        shutil.copytree(folder, target, dirs_exist_ok=True)
        return target / ONNX_NAME

    monkeypatch.setattr(onnx, "export_onnx", copy_prepared)
    return calls


@pytest.mark.model
def test_first_search_says_the_model_is_being_prepared(quick_export: list[str]) -> None:
    assert cli("store", "knowledge/auth/rotation", "refresh tokens rotate on use").exit_code == 0
    result = cli("search", "token renewal", "--json")
    assert result.exit_code == 0 and quick_export == [DEFAULT_MODEL]
    first, done = result.stderr.splitlines()
    assert first.startswith("memctl search: preparing the embedding model all-MiniLM-L6-v2")
    assert "usually 10-30 s" in first and "memctl model prepare" in first
    assert done.startswith("memctl search: model prepared in ")
    assert orjson.loads(result.stdout)["hits"][0]["path"] == "knowledge/auth/rotation"
    again = cli("search", "token renewal", "--json")  # prepared now: not a word
    assert again.exit_code == 0 and again.stderr == "" and quick_export == [DEFAULT_MODEL]
    assert cli("search", "token renewal", "-q").stderr == ""


@pytest.mark.model
def test_daemon_embedding_job_passes_the_news_on(quick_export: list[str], db_path: Path) -> None:
    assert cli("store", "knowledge/auth/rotation", "refresh tokens rotate on use").exit_code == 0
    notes: list[str] = []
    db = open_database(db_path, create=False)
    try:
        call = JobCall(db, load_policies(PACKAGED_POLICIES), T0, None, notes.append)
        report = REGISTRY["embed"](call)
    finally:
        db.close()
    assert report.count == 1
    assert len(notes) == 2 and notes[0].startswith("preparing the embedding model")
