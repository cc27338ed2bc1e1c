"""policies.yaml: resolution order, glob matching, validation with file:line."""

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memctl.errors import BadInput
from memctl.lifecycle.globs import GlobIndex, glob_match
from memctl.lifecycle.policies import (
    PACKAGED_POLICIES,
    Alerts,
    find_policies_file,
    load_policies,
    parse_policies,
)
from tests.conftest import cli

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies.yaml"


def test_repository_policies_are_the_packaged_ones() -> None:
    assert REPO_POLICIES.read_text() == PACKAGED_POLICIES.read_text()
    policies = load_policies(PACKAGED_POLICIES)
    assert policies.for_path("coordination/agent1/progress").ttl_seconds == 3600
    assert policies.for_path("knowledge/auth/jwt").conflict_strategy == "multi_value"
    assert policies.for_path("misc/thing").pattern is None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("coordination/*", "coordination/a/b/c", True),
        ("coordination/*", "coordination", False),
        ("*/progress", "coordination/agent1/progress", True),
        ("knowledge/*/jwt", "knowledge/auth/v2/jwt", True),
        ("a.b/*", "axb/c", False),
        ("exact", "exact", True),
        ("exact", "Exact", False),
    ],
)
def test_star_matches_any_characters_including_slash(pattern, text, expected) -> None:
    assert glob_match(pattern, text) is expected


def test_first_matching_rule_wins() -> None:
    policies = parse_policies(
        "namespaces:\n"
        "  - namespace: 'coordination/urgent/*'\n    ttl_seconds: 60\n"
        "  - namespace: 'coordination/*'\n    ttl_seconds: 3600\n",
        "p.yaml",
    )
    assert policies.for_path("coordination/urgent/x").ttl_seconds == 60
    assert policies.for_path("coordination/other").ttl_seconds == 3600


def test_rules_inherit_the_defaults() -> None:
    policies = parse_policies(
        "defaults:\n  ttl_seconds: 10\n  decay: {floor: 2}\n"
        "namespaces:\n  - namespace: 'a/*'\n    cleanup_strategy: lazy\n",
        "p.yaml",
    )
    rule = policies.for_path("a/b")
    assert (rule.ttl_seconds, rule.cleanup_strategy, rule.decay.floor) == (10, "lazy", 2.0)
    assert rule.decay.idle_7d_per_day == 0.1


def test_alerts_default_to_the_seed_figures_and_are_read() -> None:
    assert parse_policies("version: 1\n", "p.yaml").alerts == Alerts(10_000, 30)
    text = "alerts:\n  max_memories_per_agent: 250\n  events_retention_days: 7.5\n"
    assert parse_policies(text, "p.yaml").alerts == Alerts(250, 7.5)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("defaults:\n  ttl: 3\n", 2, "unknown key 'ttl'"),
        ("defaults:\n  ttl_seconds: soon\n", 2, "expected a whole number"),
        (
            "namespaces:\n  - namespace: 'x/*'\n    cleanup_strategy: sometimes\n",
            3,
            "'sometimes' is not one of lazy, scheduled, manual",
        ),
        ("namespaces:\n  - namespace: 'x//*'\n", 2, "bad glob"),
        ("namespaces:\n  - ttl_seconds: 3\n", 2, "needs a 'namespace'"),
        ("version: 2\n", 1, "2 is out of range (allowed: 1)"),
        ("schedule:\n  cleanup: whenever\n", 2, "cannot read schedule"),
        ("defaults: [\n", 2, "invalid YAML"),
        ("defaults:\n  keep_archived_importance: 11\n", 2, "out of range (allowed: 1 to 10)"),
        # numbers out of range: refused by line, never stored to break list/export later
        ("defaults:\n  ttl_seconds: 99999999999999999999999\n", 2, "0 to 253402300799 seconds"),
        ("defaults:\n  ttl_seconds: -1\n", 2, "out of range"),
        ("defaults:\n  archive_retention_days: .inf\n", 2, "0 to 2932896 days"),
        ("defaults:\n  keep_archived_importance: .nan\n", 2, "nan is out of range"),
        ("defaults:\n  decay:\n    floor: .nan\n", 3, "out of range (allowed: 0 to 10)"),
        ("defaults:\n  max_entries: 1e400\n", 2, "expected a whole number"),
        ("defaults:\n  max_entries: 9223372036854775808\n", 2, "out of range"),
        ("promotion:\n  min_age_days: -.inf\n", 2, "out of range"),
        ("promotion:\n  min_access_count: 99999999999999999999\n", 2, "out of range"),
        ("alerts:\n  max_memories_per_agent: 0\n", 2, "out of range"),
        ("alerts:\n  max_memories_per_agent: 1.5\n", 2, "expected a whole number"),
        ("alerts:\n  max_memories_per_agent: lots\n", 2, "expected a whole number"),
        ("alerts:\n  events_retention_days: -1\n", 2, "out of range"),
        ("alerts:\n  max_memories: 5\n", 2, "unknown key 'max_memories'"),
        # YAML tags: refused by line (SafeLoader never runs them; now no internal error)
        ("version: !!python/object/apply:os.system ['echo hi']\n", 1, "YAML tag"),
        ("defaults: !!python/object:os.environ {}\n", 1, "'!!python/object:os.environ'"),
        ("namespaces:\n  - namespace: !custom 'x/*'\n", 2, "YAML tag '!custom'"),
        ("defaults:\n  ttl_seconds: !!int soon\n", 2, "cannot read this !!int value"),
    ],
)
def test_bad_files_name_file_line_and_problem(text: str, line: int, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_policies(text, "/p/policies.yaml")
    assert str(caught.value).startswith(f"/p/policies.yaml:{line}: ")
    assert message in str(caught.value)


def test_bad_policies_file_fails_the_command_with_exit_2_and_changes_nothing(
    tmp_path: Path, db_path: Path
) -> None:
    bad = tmp_path / "policies.yaml"
    bad.write_text("defaults:\n  conflict_strategy: newest\n")
    result = cli("store", "a/b", "1", "--policies", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2: defaults.conflict_strategy" in result.stderr
    assert not db_path.exists()


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    assert find_policies_file(None, project) == PACKAGED_POLICIES
    (project / "policies.yaml").write_text("version: 1\n")
    assert find_policies_file(None, project) == project / "policies.yaml"
    claude = project / ".claude" / "memory-retention-policies.yaml"
    claude.write_text("version: 1\n")
    assert find_policies_file(None, project) == claude
    monkeypatch.setenv("MEMCTL_POLICIES", str(tmp_path / "env.yaml"))
    assert find_policies_file(None, project) == tmp_path / "env.yaml"
    assert find_policies_file(str(tmp_path / "flag.yaml"), project) == tmp_path / "flag.yaml"


def test_project_policies_found_from_a_subdirectory(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "proj"
    (project / ".memctl").mkdir(parents=True)
    (project / "policies.yaml").write_text(
        "namespaces:\n  - namespace: 'scratch/*'\n    ttl_seconds: 5\n"
    )
    (project / "src" / "deep").mkdir(parents=True)
    monkeypatch.delenv("MEMCTL_DB")
    monkeypatch.chdir(project / "src" / "deep")
    result = cli("policies", "show", "--json")
    doc = orjson.loads(result.stdout)
    assert doc["source"] == str(project / "policies.yaml")
    assert doc["rules"][0]["pattern"] == "scratch/*"


def test_explain_names_the_rule_and_why() -> None:
    result = cli("policies", "explain", "coordination/agent1/progress", "--json")
    doc = orjson.loads(result.stdout)
    assert doc["rule"] == "coordination/*"
    assert (doc["namespace"], doc["key"]) == ("coordination", "agent1/progress")
    assert doc["policy"]["ttl_seconds"] == 3600
    human = cli("policies", "explain", "misc/note").stdout
    assert "no rule matches; the defaults apply" in human
    shown = cli("policies", "show").stdout
    assert "coordination/*" in shown and "knowledge/promoted" in shown


@settings(max_examples=300, deadline=None, database=None)
@given(
    patterns=st.lists(st.text(alphabet="ab/*", min_size=1, max_size=5), max_size=12),
    text=st.text(alphabet="ab/", max_size=7),
)
def test_glob_index_finds_the_first_match_and_every_reachable_rule(
    patterns: list[str], text: str
) -> None:
    """The prefix index agrees with trying every pattern in order."""
    index = GlobIndex(patterns)
    matching = [i for i, p in enumerate(patterns) if glob_match(p, text)]
    assert index.first(text) == (matching[0] if matching else None)
    for cut in range(len(text) + 1):  # any start of the text reaches every matching rule
        assert set(matching) <= index.reachable([text[:cut]])


def test_for_path_with_many_rules_uses_the_index() -> None:
    text = "namespaces:\n" + "".join(f"  - namespace: 'team{i}/*'\n" for i in range(5000))
    policies = parse_policies(text + "  - namespace: '*'\n    ttl_seconds: 7\n", "p.yaml")
    assert policies.for_path("team4999/x").rule_index == 4999
    assert policies.for_path("team49990/x").rule_index == 5000  # the catch-all
    assert policies.split_path("team12/a/b") == ("team12", "a/b")


def test_explain_prints_policy_values_as_yaml_not_python() -> None:
    human = cli("policies", "explain", "coordination/agent1/progress").stdout
    assert 'rule #0 "coordination/*"' in human
    assert "  compression_enabled: true\n" in human
    assert "  max_age_days: not set\n" in human
    assert "  decay: {idle_7d_per_day: 0.1, idle_30d_per_day: 0.2, floor: 1, " in human
    for python in ("True", "False", "None", "'"):
        assert python not in human


def test_every_problem_of_a_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\n"
        "defaults:\n"
        "  ttl_seconds: soon\n"
        "  colour: red\n"
        "namespaces:\n"
        '  - namespace: "coordination/*"\n'
        "    cleanup_strategy: sometimes\n"
        "  - ttl_seconds: 5\n"
        "schedule:\n"
        "  decay: at teatime\n"
    )
    done = cli("policies", "show", "--policies", str(path))
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        f"memctl policies show: error: {path}: 5 problems:",
        f"  {path}:3: defaults.ttl_seconds: expected a whole number, got 'soon'",
        f"  {path}:4: defaults: unknown key 'colour' (allowed: ttl_seconds, cleanup_strategy, "
        "conflict_strategy, compression_enabled, compression_threshold_bytes, on_expire, decay, "
        "archive_retention_days, keep_archived_importance, max_age_days, min_reward, "
        "max_entries)",
        f"  {path}:7: namespaces[0].cleanup_strategy: 'sometimes' is not one of lazy, "
        "scheduled, manual",
        f"  {path}:8: namespaces[1]: a rule needs a 'namespace' pattern",
        f"  {path}:10: schedule.decay: cannot read schedule 'at teatime' (try 'every 15 "
        "minutes', 'daily at 02:00', 'weekly')",
    ]
    one = tmp_path / "one.yaml"
    one.write_text("version: 1\ndefaults:\n  ttl_seconds: -1\n")
    single = cli("policies", "show", "--policies", str(one))
    assert single.stderr.count("\n") == 1  # one problem: one line, as before


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (("policies", "show", "--policies", "nope.yaml"), "memctl policies show: error: "),
        (("hooks", "install", "--command", ""), "memctl hooks install: error: "),
        (("model", "prepare", "--policies", "nope.yaml"), "memctl model prepare: error: "),
        (("recall", "a/b", "--policies", "nope.yaml"), "memctl recall: error: "),
    ],
)
def test_error_lines_name_the_group_and_the_command(args: tuple[str, ...], prefix: str) -> None:
    done = cli(*args)
    assert done.exit_code == 2
    assert done.stderr.startswith(prefix), done.stderr
