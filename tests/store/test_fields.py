"""A memory's fields are listed once (``models.Memory``): the store's columns, the JSON
shape, the export reader and the import record are all checked against that list, and
a memory with every field set survives the row builder, the store and an export."""

import dataclasses
from pathlib import Path

from memctl.lifecycle.memories import new_row
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.models import MEMORY_FIELDS, TIME_FIELDS, Memory
from memctl.store import memories, open_database
from memctl.store.columns import ARCHIVE_COLUMNS, MEMORY_COLUMNS
from memctl.store.transfer import insert_rows
from memctl.transfer import memctl_format
from memctl.transfer.records import RECORD_FIELDS, Record

STORAGE_ONLY = {"content_hash"}  # what the vector was computed from


def test_columns_are_the_memory_fields() -> None:
    assert set(ARCHIVE_COLUMNS) == set(MEMORY_FIELDS) | STORAGE_ONLY
    assert set(MEMORY_COLUMNS) == set(ARCHIVE_COLUMNS) - {"archived_at", "archive_reason"}


def test_json_shape_is_every_field_with_the_path() -> None:
    shape = list(Memory(1, "t", "n", "k", 1).to_dict())
    assert shape == [*MEMORY_FIELDS[:4], "path", *MEMORY_FIELDS[4:]]
    assert set(TIME_FIELDS) <= set(MEMORY_FIELDS)


def test_every_field_is_read_back_from_an_export() -> None:
    by_parse_record = {"namespace", "key", "value", "conflicts", "archive_reason"}
    derived_on_import = {"id", "size"}
    readers = set(memctl_format.READERS)
    assert readers | by_parse_record | derived_on_import == set(MEMORY_FIELDS)
    assert not readers & (by_parse_record | derived_on_import)


def test_the_import_record_carries_the_memory_fields() -> None:
    record = {f.name for f in dataclasses.fields(Record)}
    import_only = {"location", "policy_ttl", "embedding"}
    hints = {"compressed", "embedding_model"}  # the export's choice, re-decided here
    assert record == set(RECORD_FIELDS) | import_only | hints
    assert set(RECORD_FIELDS) == set(MEMORY_FIELDS) - {"id", "size"} - hints


def full_memory() -> dict[str, object]:
    return {
        "id": 7,
        "tenant": "acme",
        "namespace": "knowledge",
        "key": "auth/jwt",
        "value": {"algo": "RS256", "text": "x" * 3000},  # compressed by the policy
        "type": "learning",
        "agent_id": "agent-1",
        "session_id": "s-1",
        "tags": ["auth", "jwt"],
        "metadata": {"source": "ci"},
        "importance": 7.25,
        "reward": 0.5,
        "conflicts": [{"value": "old", "timestamp": 1.5, "agent_id": "agent-2"}],
        "created_at": 100.0,
        "updated_at": 200.0,
        "accessed_at": 300.0,
        "expires_at": 400.0,
        "last_decay_at": 250.0,
        "promoted_at": 260.0,
        "access_count": 3,
        "embedding_model": None,
        "archived_at": 500.0,
        "archive_reason": "imported",
    }


def test_a_full_memory_survives_the_row_builder_and_the_store(db_path: Path) -> None:
    policies = load_policies(PACKAGED_POLICIES)
    fields = full_memory()
    row, text = new_row(policies.for_path("knowledge/auth/jwt"), fields)
    assert row["compressed"] is True and text.startswith("auth jwt: ")
    db = open_database(db_path, create=True)
    with db.write():
        insert_rows(db, [row], archived=True)
    (back,) = memories.get_many(db, [7], archived=True).values()
    for name, value in fields.items():
        assert getattr(back, name) == value, name
    assert back.size == row["size"]
    db.close()


def test_a_full_memory_survives_an_export_line() -> None:
    fields = full_memory()
    memory = Memory(**{**fields, "size": 1, "compressed": True})  # type: ignore[arg-type]
    parsed = memctl_format.parse_record(memctl_format.record_dict(memory, None), "line 2")
    assert isinstance(parsed, Record)
    for name in RECORD_FIELDS:
        assert getattr(parsed, name) == fields[name], name
