"""store / recall / list / delete through the CLI, on a real database file."""

from pathlib import Path

import orjson
import pytest

from memctl.lifecycle.values import MAX_VALUE_BYTES
from memctl.store import open_database
from tests.conftest import cli

T0 = 1_800_000_000  # a fixed "now" for MEMCTL_NOW


def doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return orjson.loads(result.stdout)


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch):
    def set_now(seconds: float) -> None:
        monkeypatch.setenv("MEMCTL_NOW", str(seconds))

    set_now(T0)
    return set_now


@pytest.mark.usefixtures("backend")
def test_store_and_recall_both_address_styles(now) -> None:
    assert cli("store", "knowledge/auth/jwt", '{"algo": "RS256"}').stdout == (
        "created knowledge/auth/jwt\n"
    )
    stored = doc(cli("store", "-k", "auth/session", "-n", "knowledge", "--value", "30m", "--json"))
    assert (stored["namespace"], stored["key"], stored["value"]) == (
        "knowledge",
        "auth/session",
        "30m",
    )
    assert doc(cli("recall", "-k", "auth/jwt", "-n", "knowledge", "--json"))["value"] == {
        "algo": "RS256"
    }
    assert cli("recall", "knowledge/auth/session").stdout == "30m\n"
    # a namespace containing '/' (claude-flow's swarm/shared)
    cli("store", "-n", "swarm/shared", "-k", "plan", "--value", "ship it")
    assert doc(cli("recall", "swarm/shared/plan", "--json"))["namespace"] == "swarm/shared"


def test_json_values_and_string_flag(now) -> None:
    cli("store", "a/num", "42")
    cli("store", "a/text", "42", "--string")
    cli("store", "a/plain", "not json at all")
    assert doc(cli("recall", "a/num", "--json"))["value"] == 42
    assert doc(cli("recall", "a/text", "--json"))["value"] == "42"
    assert doc(cli("recall", "a/plain", "--json"))["value"] == "not json at all"


def test_value_from_stdin(now) -> None:
    assert cli("store", "notes/piped", "-", input='{"from": "stdin"}\n').exit_code == 0
    assert doc(cli("recall", "notes/piped", "--json"))["value"] == {"from": "stdin"}
    cli("store", "notes/text", "--value", "-", input="line one\nline two\n")
    assert cli("recall", "notes/text").stdout == "line one\nline two\n"


@pytest.mark.usefixtures("backend")
def test_all_fields_are_stored(now) -> None:
    result = cli(
        "store",
        "episodes/t1",
        '{"ok": true}',
        "--importance",
        "7",
        "--type",
        "episode",
        "--tags",
        "auth, jwt",
        "--metadata",
        '{"source": "ci"}',
        "--agent",
        "coder-1",
        "--session",
        "s-9",
        "--reward",
        "0.8",
        "--ttl",
        "2h",
        "--timestamp",
        "2027-01-15T08:00:00Z",
    )
    assert result.exit_code == 0, result.stderr
    m = doc(cli("recall", "episodes/t1", "--json", "--include-expired"))
    assert m["type"] == "episode" and m["tags"] == ["auth", "jwt"]
    assert m["metadata"] == {"source": "ci"} and m["agent_id"] == "coder-1"
    assert m["session_id"] == "s-9" and m["reward"] == 0.8
    assert m["created_at"] == "2027-01-15T08:00:00.000Z"
    assert m["expires_at"] == "2027-01-15T10:00:00.000Z"
    assert m["access_count"] == 1 and m["importance"] == pytest.approx(7.1)


@pytest.mark.usefixtures("backend")
def test_recall_records_access_and_boosts_importance(now) -> None:
    cli("store", "k/x", "1")
    for _ in range(3):
        cli("recall", "k/x")
    m = doc(cli("recall", "k/x", "--json"))
    assert m["access_count"] == 4
    assert m["importance"] == pytest.approx(5.4)
    assert m["accessed_at"] is not None


@pytest.mark.usefixtures("backend")
def test_coordination_memory_expires_under_the_clock_and_is_archived_lazily(now) -> None:
    cli("store", "coordination/swarm-1/lock", '"agent-3"')
    now(T0 + 3599)
    assert cli("recall", "coordination/swarm-1/lock").exit_code == 0
    now(T0 + 3601)
    assert doc(cli("list", "coordination/*", "--json"))["count"] == 0  # invisible
    gone = cli("recall", "coordination/swarm-1/lock")
    assert gone.exit_code == 1 and "expired" in gone.stderr
    archived = doc(cli("list", "--archived", "--json"))["memories"]
    assert [(m["path"], m["archive_reason"]) for m in archived] == [
        ("coordination/swarm-1/lock", "expired")
    ]


def test_looking_ahead_shows_expiry_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's TTL demo: MEMCTL_NOW=+2h (from the real clock) is a look ahead, so
    recall reports the expiry without archiving the memory or recording an access."""
    monkeypatch.delenv("MEMCTL_NOW", raising=False)
    assert cli("store", "coordination/swarm-1/progress", '{"step": 3}').exit_code == 0
    monkeypatch.setenv("MEMCTL_NOW", "+2h")
    ahead = cli("recall", "coordination/swarm-1/progress")
    assert ahead.exit_code == 1
    assert "coordination/swarm-1/progress: expired at 20" in ahead.stderr
    assert doc(cli("list", "coordination/*", "--json"))["count"] == 0  # invisible then
    plan = doc(cli("cleanup", "--dry-run", "--json"))
    assert plan["count"] == 1 and plan["dry_run"] is True
    monkeypatch.setenv("MEMCTL_NOW", "+30m")
    assert doc(cli("recall", "coordination/swarm-1/progress", "--json"))["access_count"] == 0
    monkeypatch.delenv("MEMCTL_NOW")
    back = doc(cli("recall", "coordination/swarm-1/progress", "--json"))
    assert back["value"] == {"step": 3}
    assert back["access_count"] == 1  # only this real recall counted
    assert doc(cli("list", "--archived", "--json"))["count"] == 0


def test_an_absolute_clock_is_a_simulation_where_reads_expire_lazily(now) -> None:
    """MEMCTL_NOW=<time> (tests, replays): the lazy expiry happens at that time."""
    cli("store", "coordination/swarm-1/lock", '"agent-3"')
    now(T0 + 7200)
    assert cli("recall", "coordination/swarm-1/lock").exit_code == 1
    assert doc(cli("list", "--archived", "--json"))["count"] == 1


def test_relative_clock_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from memctl import clock

    monkeypatch.setenv("MEMCTL_NOW", "-1d")
    assert abs(clock.now() - (time.time() - 86400)) < 5
    assert not clock.looking_ahead()
    monkeypatch.setenv("MEMCTL_NOW", "+2h")
    assert abs(clock.now() - (time.time() + 7200)) < 5
    assert clock.looking_ahead()
    monkeypatch.setenv("MEMCTL_NOW", "+2x")
    assert cli("list").exit_code == 2


@pytest.mark.usefixtures("backend")
def test_expired_scheduled_memory_is_invisible_but_stays_until_cleanup(now) -> None:
    cli("store", "notes/tmp", "1", "--ttl", "60")  # default policy: scheduled cleanup
    now(T0 + 61)
    assert cli("recall", "notes/tmp").exit_code == 1
    assert doc(cli("list", "--json"))["count"] == 0
    assert doc(cli("list", "--expired", "--json"))["count"] == 1
    assert doc(cli("list", "--archived", "--json"))["count"] == 0


@pytest.mark.usefixtures("backend")
def test_lww_newer_wins_older_loses(now) -> None:
    cli("store", "agent/1/progress", '"step1"', "--timestamp", "100")
    cli("store", "agent/1/progress", '"step2"', "--timestamp", "200")
    older = doc(cli("store", "agent/1/progress", '"step0"', "--timestamp", "150", "--json"))
    assert older["action"] == "ignored"
    assert doc(cli("recall", "agent/1/progress", "--json"))["value"] == "step2"


@pytest.mark.usefixtures("backend")
def test_multi_value_keeps_conflicting_values(now) -> None:
    cli("store", "knowledge/decisions/db", '"option_a"', "--timestamp", "100")
    merged = doc(
        cli("store", "knowledge/decisions/db", '"option_b"', "--timestamp", "200", "--json")
    )
    assert merged["action"] == "merged"
    late = doc(cli("store", "knowledge/decisions/db", '"option_c"', "--timestamp", "150", "--json"))
    assert late["value"] == "option_b"
    assert [c["value"] for c in late["conflicts"]] == ["option_c", "option_a"]


@pytest.mark.usefixtures("backend")
def test_counter_adds_up_and_rejects_non_numbers(now, db_path: Path) -> None:
    cli("store", "metrics/task/count", "5")
    assert cli("store", "metrics/task/count", "3").stdout == "merged metrics/task/count (5 + 3)\n"
    assert cli("recall", "metrics/task/count").stdout == "8\n"
    bad = cli("store", "metrics/task/count", "lots")
    assert bad.exit_code == 2 and "not a number" in bad.stderr
    assert cli("recall", "metrics/task/count").stdout == "8\n"


@pytest.mark.usefixtures("backend")
def test_large_value_is_compressed_and_comes_back_identical(now, db_path: Path) -> None:
    value = {"log": "".join(f"line {i}: retry with backoff\n" for i in range(200))}
    text = orjson.dumps(value).decode()
    assert len(text) > 5000
    stored = doc(cli("store", "logs/run-1", text, "--json"))
    assert stored["compressed"] is True
    assert doc(cli("recall", "logs/run-1", "--json"))["value"] == value
    raw = "x" * 5120 + "ü"
    cli("store", "logs/raw", raw, "--string")
    assert cli("recall", "logs/raw").stdout == raw + "\n"
    db = open_database(db_path, create=False)
    size = db.scalar("SELECT length(value) FROM memories WHERE key = 'run-1'")
    assert size < len(text) / 3


@pytest.mark.usefixtures("backend")
def test_tenants_are_isolated(now) -> None:
    cli("store", "k/secret", '"a"', "--tenant", "acme")
    assert cli("recall", "k/secret").exit_code == 1
    assert cli("recall", "k/secret", "--tenant", "acme").stdout == "a\n"
    assert doc(cli("list", "--json"))["count"] == 0
    everyone = doc(cli("list", "--all-tenants", "--json"))
    assert [m["tenant"] for m in everyone["memories"]] == ["acme"]
    assert cli("recall", "k/secret", "--tenant", "bad tenant!").exit_code == 2


@pytest.mark.usefixtures("backend")
def test_list_filters_sort_and_limit(now) -> None:
    cli("store", "knowledge/a", "1", "--type", "learning", "--agent", "x", "--tags", "t1")
    cli("store", "knowledge/b", "2", "--importance", "9", "--tags", "t1,t2")
    cli("store", "errors/c", "3", "--type", "error_pattern", "--agent", "x")
    paths = lambda *args: [m["path"] for m in doc(cli("list", *args, "--json"))["memories"]]  # noqa: E731
    assert paths("knowledge/*", "--sort", "path") == ["knowledge/a", "knowledge/b"]
    assert paths("--agent", "x", "--sort", "path") == ["errors/c", "knowledge/a"]
    assert paths("--type", "error_pattern") == ["errors/c"]
    assert paths("--tag", "t2") == ["knowledge/b"]
    assert paths("--sort", "importance", "--limit", "1") == ["knowledge/b"]
    assert doc(cli("list", "--limit", "1", "--json"))["total"] == 3
    assert cli("list", "--sort", "nonsense").exit_code == 2


@pytest.mark.usefixtures("backend")
def test_delete_archives_and_hard_delete_removes(now) -> None:
    cli("store", "scratch/a", "1")
    cli("store", "scratch/b", "2")
    cli("store", "keep/c", "3")
    dry = doc(cli("delete", "scratch/*", "--dry-run", "--json"))
    assert dry["count"] == 2 and doc(cli("list", "--json"))["count"] == 3
    assert cli("delete", "scratch/*").exit_code == 0
    archived = doc(cli("list", "--archived", "--json"))["memories"]
    assert sorted(m["path"] for m in archived) == ["scratch/a", "scratch/b"]
    assert {m["archive_reason"] for m in archived} == {"deleted"}
    assert cli("delete", "keep/c", "--hard").exit_code == 0
    assert doc(cli("list", "--archived", "--json"))["count"] == 2
    assert cli("delete", "keep/c").exit_code == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("recall", "nothing/here"), 1, "no such memory"),
        (("store", "a/b"), 2, "a value is required"),
        (("store", "a/b", "1", "--importance", "11"), 2, "out of range (allowed: 1 to 10)"),
        (("store", "a/b", "1", "--reward", "2"), 2, "out of range (allowed: 0 to 1)"),
        (("store", "a/b", "1", "--metadata", "[1]"), 2, "JSON object"),
        (("store", "a/b", "1", "--timestamp", "yesterday"), 2, "neither epoch"),
        (("store", "a/b", "1", "--ttl", "-5"), 2, "out of range"),
        (("store", "a/b\x01c", "1"), 2, "control characters"),
        (("list", "a\x01*"), 2, "bad pattern"),
        (("store", "a/", "1"), 2, "path 'a/' ends with '/'"),
        (("store", "knowledge/", "5"), 2, "its key is empty"),
        (("store", "/a", "1"), 2, "path '/a' starts with '/'"),
        (("recall", "a/"), 2, "ends with '/'"),
        (("delete", "/"), 2, "starts with '/'"),
        (("delete",), 2, "required"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code(args, code, message, db_path: Path) -> None:
    assert cli("store", "seed/one", "1").exit_code == 0
    result = cli(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert [m["path"] for m in doc(cli("list", "--json"))["memories"]] == ["seed/one"]


def test_oversized_value_is_refused(db_path: Path) -> None:
    result = cli("store", "big/one", "-", input="y" * (MAX_VALUE_BYTES + 10))
    assert result.exit_code == 2 and "limit is 1,048,576 bytes" in result.stderr
    assert not db_path.exists()  # checked before the database is opened, let alone written


def test_invalid_utf8_on_stdin_is_refused(db_path: Path) -> None:
    result = cli("store", "bin/blob", "-", input=b"ok \xff\xfe not utf8")
    assert result.exit_code == 2 and "not valid UTF-8" in result.stderr
    assert not db_path.exists()


def test_json_errors_are_json_objects() -> None:
    result = cli("recall", "no/such", "--json")
    assert result.exit_code == 1
    error = orjson.loads(result.stderr)["error"]
    assert error["kind"] == "not_found" and error["exit_code"] == 1
    assert result.stdout == ""


def test_every_command_has_help_with_an_example() -> None:
    for command in ("store", "recall", "list", "delete", "search", "reindex"):
        result = cli(command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.stdout, command
        for option in ("--db", "--policies", "--tenant", "--json", "--quiet"):
            assert option in result.stdout, (command, option)


@pytest.mark.parametrize(
    "command",
    [
        "cleanup",
        "decay",
        "prune",
        "archive",
        "restore",
        "compact",
        "promote",
        "stats",
        "export",
        "import",
        "daemon",
        "hook session-start",
        "hook session-end",
        "hook pre-task",
        "hook pre-compact",
        "hook post-task",
        "hook memory-cleanup",
        "hooks install",
        "hooks uninstall",
        "policies show",
        "policies explain",
        "model prepare",
    ],
)
def test_other_commands_have_help_with_an_example_and_json(command: str) -> None:
    result = cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "--json" in result.stdout
