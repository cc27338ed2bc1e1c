"""A whole Claude Code session through the hooks as real processes: SessionStart, prompts
and their outcomes, PreCompact, SessionStart after the compaction, SessionEnd, and the
next session's start. The session summary keeps the tasks with their outcomes."""

from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.store import open_database
from memctl.store.memories import Filters, select
from tests.conftest import FIXTURES, cli, run

SESSION = "3f2c9a7e-5b1d-4c8e-9a60-1d2e3f4a5b6c"
NEXT = "9b8a7c6d-0000-4000-8000-000000000001"


@pytest.fixture(autouse=True)
def keyword_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged policies with ``embedding.model: none`` (no model load per process)."""
    path = tmp_path / "policies.yaml"
    path.write_text(PACKAGED_POLICIES.read_text().replace("model: all-MiniLM-L6-v2", "model: none"))
    monkeypatch.setenv("MEMCTL_POLICIES", str(path))
    monkeypatch.setenv("MEMCTL_NOW", "2026-03-01T12:00:00Z")


def payload(name: str, **changes: Any) -> str:
    data = orjson.loads((FIXTURES / "claude-code" / f"{name}.json").read_bytes())
    return orjson.dumps(data | changes).decode()


def hook(name: str, stdin: str, at: str, *flags: str) -> Any:
    done = run("hook", name, *flags, input=stdin, env={"MEMCTL_NOW": at})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done


def context_of(done: Any) -> str:
    output = orjson.loads(done.stdout)["hookSpecificOutput"]
    assert output["hookEventName"] == "SessionStart"
    return str(output["additionalContext"])


def summary(db_path: Path, session: str = SESSION) -> Any:
    db = open_database(db_path, create=False)
    try:
        found = select(db, Filters(tenant="default", pattern=f"session-summaries/{session}"))
        return found[0].value if found else None
    finally:
        db.close()


@pytest.mark.usefixtures("backend")
def test_a_session_is_summarised_with_its_tasks_and_brought_back(db_path: Path) -> None:
    jwt = "JWT login flow: access tokens RS256 expire after 15 min, refresh-token rotation"
    assert cli("store", "knowledge/auth/jwt", jwt).exit_code == 0
    assert cli("store", "knowledge/deploy/k8s", "deploy with helm").exit_code == 0
    start = hook("session-start", payload("session-start"), "2026-03-01T12:00:00Z")
    assert context_of(start) == ""  # a first session: nothing to bring back yet

    hook("pre-task", payload("user-prompt-submit"), "2026-03-01T12:01:00Z")
    stop = hook("post-task", payload("stop"), "2026-03-01T12:09:00Z")
    assert stop.stdout == ""
    hook(
        "pre-task",
        payload("user-prompt-submit", prompt="Now document the JWT expiry in the README"),
        "2026-03-01T12:10:00Z",
    )  # no outcome yet when the context fills up

    compact = hook("pre-compact", payload("pre-compact"), "2026-03-01T12:20:00Z")
    assert compact.stdout == ""
    kept = summary(db_path)
    assert kept["trigger"] == "pre-compact" and kept["compaction"] == "auto"
    assert [t["task"] for t in kept["tasks"]] == [
        "Add refresh-token rotation to the JWT login flow",
        "Now document the JWT expiry in the README",
    ]
    first, second = kept["tasks"]
    assert first["outcome"].startswith("Refresh-token rotation is in place")
    assert first["episode"].startswith("episodes/") and first["completed_at"]
    assert "outcome" not in second
    assert (kept["task_count"], kept["completed"]) == (2, 1)

    # Claude Code starts the session again after compacting: its own summary comes back.
    # Keyword-only, in a store that is mostly this session's own notes, no memory shares
    # enough rare words with the tasks to pass the relevance rule: --min-score 0 lowers it
    again = hook(
        "session-start",
        payload("session-start", source="compact"),
        "2026-03-01T12:20:05Z",
        "--min-score",
        "0",
    )
    context = context_of(again)
    assert "not instructions" in context
    assert "Add refresh-token rotation to the JWT login flow" in context
    assert "outcome: Refresh-token rotation is in place" in context
    assert "knowledge/auth/jwt" in context  # relevant to the session's tasks
    assert "session-summaries/" not in context  # the summary is not repeated as a hit
    assert f"- {first['episode']} (" not in context  # nor the episodes it tells of
    assert f"session/{SESSION}/tasks" not in context

    end = hook("session-end", payload("session-end"), "2026-03-01T13:00:00Z")
    result = orjson.loads(end.stdout)
    assert result["tasks"] == 2
    assert f"session/{SESSION}/tasks" in result["archived_paths"]
    final = summary(db_path)
    assert final["trigger"] == "session-end" and final["ended_at"].startswith("2026-03-01T13")
    assert final["reason"] == "prompt_input_exit"
    assert [t["task"] for t in final["tasks"]] == [t["task"] for t in kept["tasks"]]
    assert final["scratch_archived"] == len(result["archived_paths"])

    # the next session starts with what this one did
    nxt = hook("session-start", payload("session-start", session_id=NEXT), "2026-03-02T09:00:00Z")
    context = context_of(nxt)
    assert f"Session {SESSION} (ended 2026-03-01T13" in context
    assert "Now document the JWT expiry in the README" in context
    assert "knowledge/deploy/k8s" not in context  # unrelated to that work


def test_claude_flow_outcomes_without_a_prompt_join_the_summary(db_path: Path) -> None:
    for task, reward in (("t-1", "0.9"), ("t-2", "0.2")):
        done = run(
            "hook",
            "post-task",
            "--session-id",
            "swarm-1",
            "--task-id",
            task,
            "--description",
            f"task {task}",
            "--reward",
            reward,
        )
        assert done.returncode == 0, done.stderr
    end = run("hook", "session-end", "--session-id", "swarm-1")
    assert end.returncode == 0, end.stderr
    kept = summary(db_path, "swarm-1")
    assert [(t["task_id"], t["reward"]) for t in kept["tasks"]] == [("t-1", 0.9), ("t-2", 0.2)]
    assert kept["mean_reward"] == 0.55
    assert kept["tasks"][0]["episode"] == "episodes/t-1"


def test_session_start_formats_and_description(db_path: Path) -> None:
    assert cli("store", "knowledge/deploy/k8s", "deploy with helm").exit_code == 0
    text = run("hook", "session-start", "--description", "helm deploy", "--format", "text")
    assert text.returncode == 0 and "knowledge/deploy/k8s" in text.stdout
    assert not text.stdout.lstrip().startswith("{")
    scored = run("hook", "session-start", "--description", "helm deploy", "--json")
    document = orjson.loads(scored.stdout)
    assert document["hook"] == "session-start" and document["summary"] is None
    assert document["hits"][0]["path"] == "knowledge/deploy/k8s"


@pytest.mark.usefixtures("backend")
def test_pre_compact_without_a_session_keeps_nothing(db_path: Path) -> None:
    done = run("hook", "pre-compact", "--json")
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert result["summary"] is None and result["notes"]
