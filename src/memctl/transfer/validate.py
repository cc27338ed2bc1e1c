"""Import, pass 1: every record checked before anything is written (types, paths, value
size, numbers in range, tenants, counter paths, vectors), and pass 2's re-reading of the
records pass 1 accepted."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from memctl import limits
from memctl.errors import BadInput
from memctl.lifecycle import memories as lifecycle
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.values import check_tenant, check_text, is_number, serialize
from memctl.models import TIME_FIELDS
from memctl.progress import Progress
from memctl.store import transfer as sql
from memctl.store.columns import EMBEDDING_DIM
from memctl.transfer.records import Invalid, Record, Source

if TYPE_CHECKING:
    from memctl.transfer.importer import ImportOptions, ImportReport

MAX_LISTED = 50  # invalid records listed in the report


def check_record(record: Record, policies: Policies, options: "ImportOptions") -> None:
    """Everything about one record that can be known before writing (raises BadInput)."""
    if options.all_tenants and record.tenant is not None:
        check_tenant(record.tenant)
    if options.agent_id is not None and record.agent_id not in (None, options.agent_id):
        raise BadInput(
            f"agent_id {record.agent_id!r} is not {options.agent_id!r}, the agent imported into"
        )
    lifecycle.check_path_part(record.namespace, "namespace")
    lifecycle.check_path_part(record.key, "key")
    serialize(record.value)
    limits.check_optional(record.importance, "importance", limits.KEPT_IMPORTANCE)
    limits.check_optional(record.reward, "reward", limits.REWARD)
    limits.check(record.access_count, "access_count", limits.COUNT)
    for name in TIME_FIELDS:
        limits.check_optional(getattr(record, name), name, limits.TIME)
    for index, item in enumerate(record.conflicts):
        limits.check(item.get("timestamp"), f"conflicts[{index}].timestamp", limits.TIME)
    for text, what in (
        (record.type, "type"),
        (record.agent_id, "agent_id"),
        (record.session_id, "session_id"),
        (record.archive_reason, "archive_reason"),
        (record.embedding_model, "embedding_model"),
    ):
        if text is not None:
            check_text(text, what)
    for tag in record.tags:
        check_text(tag, "tag")
    try:
        orjson.dumps(record.metadata)
        orjson.dumps(record.conflicts)
    except TypeError as exc:
        raise BadInput(f"metadata or conflicts cannot be stored as JSON: {exc}") from None
    if record.embedding is not None and len(record.embedding) != sql.VECTOR_BYTES:
        raise BadInput(
            f"embedding has {len(record.embedding)} bytes; expected {sql.VECTOR_BYTES} "
            f"({EMBEDDING_DIM} float32)"
        )
    path = f"{record.namespace}/{record.key}"
    policy = policies.for_path(path)
    if (
        not record.archived
        and policy.conflict_strategy == "counter"
        and not is_number(record.value)
    ):
        raise BadInput(f"{path} is a counter (policy {policy.pattern}); the value is not a number")


def check_entry(entry: Record | Invalid, policies: Policies, options: "ImportOptions") -> Any:
    if isinstance(entry, Invalid):
        return entry
    try:
        check_record(entry, policies, options)
    except BadInput as exc:
        return Invalid(entry.location, str(exc))
    return entry


def validate(
    source: Source,
    policies: Policies,
    options: "ImportOptions",
    report: "ImportReport",
    progress: Progress,
) -> int:
    progress.start(source.expected or 0, "checking")
    first: Invalid | None = None
    valid = 0
    tenants: set[str] = set()
    for entry in source.entries():
        report.read += 1
        checked = check_entry(entry, policies, options)
        if isinstance(checked, Invalid):
            report.invalid += 1
            first = first or checked
            if len(report.invalid_records) < MAX_LISTED:
                report.invalid_records.append(
                    {"location": checked.location, "error": checked.error}
                )
        else:
            valid += 1
            tenants.add(checked.tenant or options.tenant)
        progress.advance(1)
    if source.expected is not None and report.read != source.expected:
        problem = (
            f"{source.path}: the file announces {source.expected} memories but holds "
            f"{report.read}; it may be truncated"
        )
        if not options.skip_invalid:
            raise BadInput(f"{problem}; nothing imported")
        report.invalid_records.append({"location": source.path, "error": problem})
    if first is not None and not options.skip_invalid:
        more = f"; {report.invalid - 1} more invalid" if report.invalid > 1 else ""
        raise BadInput(
            f"{first}{more}; nothing imported (--skip-invalid imports the valid records)"
        )
    if not options.all_tenants and len(tenants) > 1:
        raise BadInput(
            f"{source.path} holds memories of {len(tenants)} tenants "
            f"({', '.join(sorted(tenants))}); import it with --all-tenants to keep them apart; "
            "nothing imported"
        )
    report.tenants = sorted({options.tenant} if not options.all_tenants else tenants)
    return valid


def valid_records(source: Source, policies: Policies, options: "ImportOptions") -> Iterator[Record]:
    """Pass 2: the records pass 1 accepted (a file that changed in between is refused)."""
    for entry in source.entries():
        checked = check_entry(entry, policies, options)
        if isinstance(checked, Invalid) and not options.skip_invalid:
            raise BadInput(f"{checked}; the file changed during the import; nothing imported")
        if isinstance(checked, Record):
            if not options.all_tenants or checked.tenant is None:
                checked.tenant = options.tenant
            if options.agent_id is not None:
                checked.agent_id = options.agent_id
            yield checked
