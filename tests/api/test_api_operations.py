"""The operation layer gives exactly the documents the command line prints with --json."""

import inspect
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.api import arguments, operations
from memctl.api.context import Contexts, LocalContext, Models
from memctl.errors import BadInput, NotFound
from memctl.lifecycle.policies import PACKAGED_POLICIES
from tests.conftest import cli

T0 = 1_800_000_000.0


def keyword_policies(folder: Path) -> Path:
    path = folder / "keyword-policies.yaml"
    path.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    return path


def doc(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def steady(document: Any) -> Any:
    """A document without what differs between two runs of the same operation on two
    files: the time it took, when it was made, which file and how big it is; and
    ``server``, which only ``memctl stats`` adds (is a warm server up for its file)."""
    if isinstance(document, dict):
        return {
            key: steady(value)
            for key, value in document.items()
            if key
            not in ("duration_ms", "generated_at", "path", "size_bytes", "wal_bytes", "server")
            or (key == "path" and isinstance(value, str) and not value.startswith("/"))
        }
    if isinstance(document, list):
        return [steady(item) for item in document]
    return document


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalContext:
    """The command line on $MEMCTL_DB and the layer on a second database, one clock."""
    policies = keyword_policies(tmp_path)
    monkeypatch.setenv("MEMCTL_POLICIES", str(policies))
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    return Contexts("default", tmp_path / "layer.db", policies, Models(), lambda: T0)()


def test_cli_json_and_the_layer_agree_operation_by_operation(layer: LocalContext) -> None:
    def both(cli_args: tuple[str, ...], document: Any) -> None:
        assert steady(doc(*cli_args)) == steady(document), cli_args

    both(
        (
            "store",
            "knowledge/auth/jwt",
            '{"algo": "RS256"}',
            "--tags",
            "auth,jwt",
            "--type",
            "learning",
        ),
        operations.store(
            layer,
            path="knowledge/auth/jwt",
            value={"algo": "RS256"},
            tags=["auth", "jwt"],
            type="learning",
        ).to_dict(),
    )
    both(
        ("store", "-n", "coordination", "-k", "swarm-1/step", "3", "--ttl", "60"),
        operations.store(
            layer, namespace="coordination", key="swarm-1/step", value=3, ttl=60
        ).to_dict(),
    )
    both(
        ("store", "metrics/task/count", "5", "--importance", "7"),
        operations.store(layer, path="metrics/task/count", value=5, importance=7).to_dict(),
    )
    both(
        ("store", "metrics/task/count", "2"),
        operations.store(layer, path="metrics/task/count", value=2).to_dict(),
    )
    both(
        ("recall", "knowledge/auth/jwt"),
        operations.recall(layer, path="knowledge/auth/jwt").to_dict(),
    )
    both(
        ("list", "--sort", "path", "--limit", "2"),
        operations.list_memories(layer, sort="path", limit=2).to_dict(),
    )
    both(
        ("search", "RS256 algo", "--mode", "keyword"),
        operations.search(layer, "RS256 algo", mode="keyword").to_dict(),
    )
    both(
        ("delete", "coordination/*", "--dry-run"),
        operations.forget(layer, path="coordination/*", dry_run=True).to_dict(),
    )
    both(
        ("delete", "knowledge/auth/jwt"),
        operations.forget(layer, path="knowledge/auth/jwt").to_dict(),
    )
    both(("list", "--archived"), operations.list_memories(layer, archived=True).to_dict())
    both(
        ("restore", "knowledge/auth/jwt", "--ttl", "2h"),
        operations.restore(layer, "knowledge/auth/jwt", ttl=7200).to_dict(),
    )
    both(("stats",), operations.stats(layer).to_dict())
    layer.close()


def test_errors_are_the_named_errors_of_the_command_line(layer: LocalContext) -> None:
    with pytest.raises(NotFound, match="no such memory"):
        operations.recall(layer, path="knowledge/absent")
    with pytest.raises(NotFound, match="no memory matches"):
        operations.forget(layer, path="knowledge/absent")
    with pytest.raises(NotFound, match="nothing archived matches"):
        operations.restore(layer, "knowledge/absent")
    with pytest.raises(BadInput, match="out of range"):
        operations.store(layer, path="a/b", value=1, importance=11)
    with pytest.raises(BadInput, match="sort must be one of"):
        operations.list_memories(layer, sort="size")
    with pytest.raises(BadInput, match="mode must be one of"):
        operations.search(layer, "x", mode="fuzzy")
    with pytest.raises(BadInput, match="ends with '/'"):
        operations.store(layer, path="a/", value=1)
    assert operations.list_memories(layer).total == 0  # nothing was written by any of them
    layer.close()


def test_the_wire_fields_are_the_operations_keywords_with_their_defaults() -> None:
    """Each field of ``api.arguments`` is a keyword of its operation (restore's id/path
    become ``target``), and a documented default is the function's own default."""
    for op in arguments.OPERATIONS.values():
        params = inspect.signature(op.call).parameters
        for field in op.fields:
            name = (
                "target" if op is arguments.RESTORE and field.name in ("id", "path") else field.name
            )
            assert name in params, (op.name, field.name)
            if field.default is not None:
                assert params[name].default == field.default, (op.name, field.name)


def test_wire_modes_are_the_search_modes() -> None:
    from memctl.search.ranking import MODES

    assert arguments.MODES == MODES
