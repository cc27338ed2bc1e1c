"""Wire arguments: one JSON Schema per operation and the check every call goes through."""

from typing import Any

import pytest

from memctl.api.arguments import FORGET, LIST, OPERATIONS, RECALL, RESTORE, SEARCH, STATS, STORE
from memctl.errors import BadInput


def refused(op: Any, arguments: Any, message: str, hidden: tuple[str, ...] = ()) -> None:
    with pytest.raises(BadInput) as caught:
        op.parse(arguments, hidden)
    assert message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


def test_schemas_are_closed_objects_a_model_api_accepts() -> None:
    for op in OPERATIONS.values():
        schema = op.schema()
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        # model APIs refuse tool schemas with a combinator at the top level
        assert not {"oneOf", "anyOf", "allOf", "not"} & set(schema), op.name
        for name, spec in schema["properties"].items():
            assert spec["description"], (op.name, name)
            assert "type" in spec, (op.name, name)


def test_schema_ranges_and_enums_come_from_the_shared_limits() -> None:
    store = STORE.schema()["properties"]
    assert (store["importance"]["minimum"], store["importance"]["maximum"]) == (1, 10)
    assert (store["reward"]["minimum"], store["reward"]["maximum"]) == (0, 1)
    assert store["ttl"]["minimum"] == 0 and store["ttl"]["maximum"] == 253402300799
    assert store["tags"] == {**store["tags"], "type": "array", "items": {"type": "string"}}
    assert STORE.schema()["required"] == ["value"]
    search = SEARCH.schema()
    assert search["required"] == ["query"]
    assert search["properties"]["mode"]["enum"] == ["hybrid", "semantic", "keyword"]
    assert search["properties"]["limit"]["type"] == "integer"
    assert (search["properties"]["limit"]["minimum"], search["properties"]["limit"]["maximum"]) == (
        1,
        1000,
    )
    assert "updated" in LIST.schema()["properties"]["sort"]["enum"]
    assert "hard" not in FORGET.schema(hidden=("hard",))["properties"]
    assert STATS.schema() == {"type": "object", "properties": {}, "additionalProperties": False}


def test_good_arguments_become_the_operations_keywords() -> None:
    assert STORE.parse(
        {
            "path": "a/b",
            "value": None,
            "ttl": 60,
            "tags": ["x"],
            "timestamp": "2027-01-15T08:00:00Z",
        }
    ) == {"path": "a/b", "value": None, "ttl": 60, "tags": ["x"], "timestamp": 1800000000.0}
    assert SEARCH.parse({"query": "q", "limit": 5.0}) == {"query": "q", "limit": 5}
    assert RESTORE.parse({"id": 7, "ttl": 0}) == {"target": "7", "ttl": 0}
    assert RESTORE.parse({"path": "a/*"}) == {"target": "a/*"}
    assert RECALL.parse({"namespace": "swarm/shared", "key": "k"}) == {
        "namespace": "swarm/shared",
        "key": "k",
    }
    assert STATS.parse(None) == {}


@pytest.mark.parametrize(
    ("op", "arguments", "message"),
    [
        (STORE, {"path": "a/b"}, "value is required"),
        (STORE, {"value": 1}, "path is required (or key, with namespace)"),
        (STORE, {"path": "a/b", "key": "b", "value": 1}, "not both"),
        (STORE, {"path": "a/b", "namespace": "a", "value": 1}, "namespace goes with key"),
        (STORE, {"path": "a/b", "value": 1, "colour": "red"}, "unknown field 'colour'"),
        (STORE, {"path": 5, "value": 1}, "path must be a string, not a number"),
        (STORE, {"path": "a/b", "value": 1, "importance": "high"}, "importance must be a number"),
        (STORE, {"path": "a/b", "value": 1, "importance": None}, "not null"),
        (STORE, {"path": "a/b", "value": 1, "importance": True}, "not a boolean"),
        (STORE, {"path": "a/b", "value": 1, "importance": 1e20}, "allowed: 1 to 10"),
        (STORE, {"path": "a/b", "value": 1, "importance": float("inf")}, "allowed: 1 to 10"),
        (STORE, {"path": "a/b", "value": 1, "importance": float("nan")}, "allowed: 1 to 10"),
        (STORE, {"path": "a/b", "value": 1, "ttl": -1}, "0 to 253402300799 seconds"),
        (STORE, {"path": "a/b", "value": 1, "reward": 2}, "allowed: 0 to 1"),
        (STORE, {"path": "a/b", "value": 1, "timestamp": 1e20}, "1970-01-01T00:00:00Z to"),
        (STORE, {"path": "a/b", "value": 1, "timestamp": "yesterday"}, "neither epoch seconds"),
        (STORE, {"path": "a/b", "value": 1, "tags": "a,b"}, "tags must be a list of strings"),
        (STORE, {"path": "a/b", "value": 1, "tags": [1]}, "tags must be a list of strings"),
        (STORE, {"path": "a/b", "value": 1, "metadata": []}, "metadata must be a JSON object"),
        (STORE, {"path": "a/\ud800", "value": 1}, "not valid UTF-8"),
        (STORE, ["a/b", 1], "arguments must be a JSON object"),
        (SEARCH, {"query": " "}, "query is empty"),
        (SEARCH, {"query": "q", "limit": 0}, "allowed: whole numbers 1 to 1000"),
        (SEARCH, {"query": "q", "limit": 1e20}, "allowed: whole numbers 1 to 1000"),
        (SEARCH, {"query": "q", "limit": 2.5}, "is not a whole number"),
        (SEARCH, {"query": "q", "min_score": float("nan")}, "allowed: 0 to 1"),
        (SEARCH, {"query": "q", "mode": "fuzzy"}, "mode must be one of hybrid, semantic"),
        (SEARCH, {"query": "q", "archived": "yes"}, "archived must be true or false"),
        (LIST, {"limit": 5000}, "allowed: whole numbers 1 to 1000"),
        (LIST, {"sort": "size"}, "sort must be one of"),
        (RESTORE, {}, "give either id"),
        (RESTORE, {"id": 1, "path": "a/b"}, "give either id"),
        (RESTORE, {"id": 0}, "allowed: whole numbers 1 to"),
        (FORGET, {"path": "a/b", "hard": True}, "unknown field 'hard'"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_naming_the_field(
    op: Any, arguments: Any, message: str
) -> None:
    refused(op, arguments, message, hidden=("hard",) if op is FORGET else ())
