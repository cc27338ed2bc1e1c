"""Import: validate every record first, then write them all in ONE transaction.

Pass 1 reads the whole file and checks every record (types, paths, value size, tenants,
counter paths, vectors) without writing; any bad record stops the import with its
location unless ``skip_invalid``. Pass 2 reads the file again and writes in batches of
``BATCH`` inside a single ``BEGIN IMMEDIATE`` transaction, so a killed import leaves the
database as it was. Neither pass holds more than one batch in memory.

Conflicts with a live memory at the same path follow ``on_conflict``:
``skip`` keeps the existing memory, ``overwrite`` replaces it with the imported one, and
``merge`` replays the imported write (and, for ``multi_value`` paths, its conflict values)
through the same resolver as ``store`` at the record's ``updated_at``; a write already
present (same value and time; for a counter, its last update time) is not applied twice,
so merging the same file again changes nothing. An existing memory that has expired is
moved out first, as ``store`` does. An imported memory that has already expired is only
written where the path is free: it never replaces or merges into a memory. Archived
records go to the archive; one with the same path and ``archived_at`` as an archived
memory is a conflict (``overwrite`` replaces it, otherwise it is skipped).
"""

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from memctl import limits
from memctl.errors import BadInput
from memctl.lifecycle import memories as lifecycle
from memctl.lifecycle.expiry import expire, expires_at
from memctl.lifecycle.policies import Policies, Policy
from memctl.lifecycle.runs import logged_run
from memctl.lifecycle.values import (
    check_tenant,
    check_text,
    content_hash,
    is_number,
    pack,
    search_text,
    serialize,
)
from memctl.models import Memory
from memctl.progress import NoProgress, Progress
from memctl.store import moves
from memctl.store import transfer as sql
from memctl.store.columns import EMBEDDING_DIM
from memctl.store.db import Database
from memctl.transfer.memctl_format import TIME_FIELDS
from memctl.transfer.records import Invalid, Record, Source

BATCH = 500
ON_CONFLICT = ("skip", "overwrite", "merge")
MAX_LISTED = 50  # invalid records listed in the report
SAME_TIME = 1e-3  # seconds: times equal after an ISO round trip

Path3 = tuple[str, str, str]


@dataclass
class ImportOptions:
    tenant: str = "default"
    all_tenants: bool = False  # keep each record's tenant
    on_conflict: str = "skip"
    skip_invalid: bool = False
    dry_run: bool = False


@dataclass
class ImportReport:
    file: str
    format: str
    on_conflict: str
    dry_run: bool
    read: int = 0
    created: int = 0
    archived: int = 0
    overwritten: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0
    skipped_expired: int = 0
    expired_on_arrival: int = 0
    replaced_expired: int = 0
    vectors_reused: int = 0
    backlog: int = 0
    invalid: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    invalid_records: list[dict[str, str]] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def written(self) -> int:
        return self.created + self.archived + self.overwritten + self.merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "on_conflict": self.on_conflict,
            "dry_run": self.dry_run,
            "read": self.read,
            "imported": self.written,
            "created": self.created,
            "archived": self.archived,
            "overwritten": self.overwritten,
            "merged": self.merged,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_expired": self.skipped_expired,
            "expired_on_arrival": self.expired_on_arrival,
            "replaced_expired": self.replaced_expired,
            "vectors_reused": self.vectors_reused,
            "embedding_backlog": self.backlog,
            "invalid": self.invalid,
            "left_out": self.left_out,
            "invalid_records": self.invalid_records,
            "tenants": self.tenants,
            "duration_ms": round(self.duration_ms, 1),
        }


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""


def current_model(policies: Policies) -> str | None:
    """The model id vectors must carry to be reused (None: embeddings are off)."""
    if policies.embedding_model == "none":
        return None
    from memctl.embeddings.model_files import model_id

    return model_id(policies.embedding_model, EMBEDDING_DIM)


def import_source(
    db: Database,
    policies: Policies,
    now: float,
    source: Source,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate then write ``source``; raises ``BadInput`` (nothing written) on bad input."""
    if options.on_conflict not in ON_CONFLICT:
        raise BadInput(f"--on-conflict must be one of {', '.join(ON_CONFLICT)}")
    progress = progress or NoProgress()
    report = ImportReport(source.path, source.format, options.on_conflict, options.dry_run)
    tenant = None if options.all_tenants else options.tenant
    with logged_run(db, "imported", tenant=tenant, now=now, record=not options.dry_run) as run:
        valid = _validate(source, policies, options, report, progress)
        writer = _Writer(db, policies, now, options, report, current_model(policies))
        progress.start(valid, "importing")
        try:
            with sql.import_cache(db), db.write():
                written = writer.run(_valid_records(source, policies, options), progress)
                if written != valid:
                    raise BadInput(f"{source.path} changed during the import; nothing imported")
                report.left_out = dict(source.notes)
                if options.dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        run.count = report.written
        run.details = {
            k: v
            for k, v in report.to_dict().items()
            if k not in ("invalid_records", "duration_ms", "dry_run")
        }
    report.duration_ms = run.duration_ms
    return report


# ---------------------------------------------------------------- pass 1: validation


def check_record(record: Record, policies: Policies, options: ImportOptions) -> None:
    """Everything about one record that can be known before writing (raises BadInput)."""
    if options.all_tenants and record.tenant is not None:
        check_tenant(record.tenant)
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


def _checked(entry: Record | Invalid, policies: Policies, options: ImportOptions) -> Any:
    if isinstance(entry, Invalid):
        return entry
    try:
        check_record(entry, policies, options)
    except BadInput as exc:
        return Invalid(entry.location, str(exc))
    return entry


def _validate(
    source: Source,
    policies: Policies,
    options: ImportOptions,
    report: ImportReport,
    progress: Progress,
) -> int:
    progress.start(source.expected or 0, "checking")
    first: Invalid | None = None
    valid = 0
    tenants: set[str] = set()
    for entry in source.entries():
        report.read += 1
        checked = _checked(entry, policies, options)
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


def _valid_records(source: Source, policies: Policies, options: ImportOptions) -> Iterator[Record]:
    """Pass 2: the records pass 1 accepted (a file that changed in between is refused)."""
    for entry in source.entries():
        checked = _checked(entry, policies, options)
        if isinstance(checked, Invalid) and not options.skip_invalid:
            raise BadInput(f"{checked}; the file changed during the import; nothing imported")
        if isinstance(checked, Record):
            if not options.all_tenants or checked.tenant is None:
                checked.tenant = options.tenant
            yield checked


# ---------------------------------------------------------------- pass 2: writing


def _path(record: Record) -> Path3:
    assert record.tenant is not None
    return (record.tenant, record.namespace, record.key)


def _batches(records: Iterator[Record]) -> Iterator[list[Record]]:
    """Batches of at most ``BATCH`` in which no live path (or archived path + time) repeats,
    so each batch's conflicts can be looked up in one query before it is written."""
    batch: list[Record] = []
    seen: set[Any] = set()
    for record in records:
        ident: Any = _path(record)
        if record.archived_at is not None:
            ident = (*ident, round(record.archived_at, 3))
        if ident in seen or len(batch) == BATCH:
            yield batch
            batch, seen = [], set()
        batch.append(record)
        seen.add(ident)
    if batch:
        yield batch


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _usable_vectors(vectors: list[bytes]) -> list[bool]:
    """NaN or all-zero vectors are accepted by vec0 and then never found: not reused.
    One numpy pass per batch."""
    if not vectors:
        return []
    import numpy as np

    matrix = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(vectors), -1)
    good = np.isfinite(matrix).all(axis=1) & (matrix != 0).any(axis=1)
    return [bool(flag) for flag in good]


class _Writer:
    def __init__(
        self,
        db: Database,
        policies: Policies,
        now: float,
        options: ImportOptions,
        report: ImportReport,
        model: str | None,
    ) -> None:
        self.db = db
        self.policies = policies
        self.now = now
        self.options = options
        self.report = report
        self.model = model
        self.next_id = 0

    def run(self, records: Iterator[Record], progress: Progress) -> int:
        """Write every record; returns how many were processed."""
        self.next_id = first = sql.next_id(self.db)
        processed = 0
        for batch in _batches(records):
            self._batch(batch)
            processed += len(batch)
            progress.advance(len(batch))
        if self.next_id > first:
            sql.reserve_ids(self.db, self.next_id - 1)
        return processed

    def _finish(self, record: Record, policy: Policy) -> None:
        """Fill in the times a source left out: now, and the policy TTL where the source
        has no expiry field."""
        if record.created_at is None:
            record.created_at = record.updated_at if record.updated_at is not None else self.now
        if record.updated_at is None:
            record.updated_at = record.created_at
        if record.policy_ttl:
            record.expires_at = expires_at(policy, None, record.updated_at)

    def _batch(self, batch: list[Record]) -> None:
        opts, report = self.options, self.report
        policies = {id(r): self.policies.for_path(f"{r.namespace}/{r.key}") for r in batch}
        for record in batch:
            self._finish(record, policies[id(record)])
        live = sql.find_live(self.db, [_path(r) for r in batch if not r.archived])
        archived = sql.find_archived(self.db, [_path(r) for r in batch if r.archived])
        inserts: list[Record] = []
        purge_live: list[int] = []
        purge_archived: list[int] = []
        to_expire: list[Memory] = []
        merges: list[tuple[Record, Memory]] = []
        for record in batch:
            if record.archived_at is not None:
                at = record.archived_at
                same = [i for i, t in archived.get(_path(record), []) if abs(t - at) < SAME_TIME]
                if same and opts.on_conflict != "overwrite":
                    report.skipped += 1
                    continue
                purge_archived.extend(same)
                if same:
                    report.overwritten += 1
                else:
                    report.archived += 1
                inserts.append(record)
                continue
            existing = live.get(_path(record))
            if existing is None:
                inserts.append(record)
                report.created += 1
            elif record.expires_at is not None and record.expires_at <= self.now:
                report.skipped_expired += 1  # an expired record never replaces a memory
            elif existing.is_expired(self.now):
                to_expire.append(existing)  # moved out first, as store does
                inserts.append(record)
                report.created += 1
                report.replaced_expired += 1
            elif opts.on_conflict == "skip":
                report.skipped += 1
            elif opts.on_conflict == "overwrite":
                purge_live.append(existing.id)
                inserts.append(record)
                report.overwritten += 1
            else:
                merges.append((record, existing))
        if to_expire:
            expire(self.db, to_expire, self.policies, self.now)
        moves.purge(self.db, purge_live)
        moves.purge(self.db, purge_archived, archived=True)
        self._insert(inserts, policies)
        for record, existing in merges:
            self._merge(record, existing, policies[id(record)])

    def _insert(self, records: list[Record], policies: dict[int, Policy]) -> None:
        rows: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        texts: list[tuple[int, str]] = []
        vectors: list[tuple[int, bytes, str, str, str, int]] = []
        reusable = [
            r
            for r in records
            if r.embedding is not None
            and self.model is not None
            and r.embedding_model == self.model
        ]
        usable = _usable_vectors([r.embedding for r in reusable if r.embedding is not None])
        keep = {id(r) for r, ok in zip(reusable, usable, strict=True) if ok}
        for record in records:
            memory_id = self.next_id
            self.next_id += 1
            vector = record.embedding if id(record) in keep else None
            row, text = self._row(memory_id, record, policies[id(record)], vector)
            rows[record.archived].append(row)
            texts.append((memory_id, text))
            if vector is not None:
                vectors.append(
                    (
                        memory_id,
                        vector,
                        row["tenant"],
                        row["namespace"],
                        row["embedding_model"],
                        int(record.archived),
                    )
                )
                self.report.vectors_reused += 1
            elif not record.archived:
                self.report.backlog += 1
            if record.expires_at is not None and record.expires_at <= self.now:
                self.report.expired_on_arrival += 1
        sql.insert_rows(self.db, rows[False], archived=False)
        sql.insert_rows(self.db, rows[True], archived=True)
        sql.insert_texts(self.db, texts)
        sql.insert_vectors(self.db, vectors)

    def _row(
        self, memory_id: int, record: Record, policy: Policy, vector: bytes | None
    ) -> tuple[dict[str, Any], str]:
        data = serialize(record.value)
        if record.compressed is None:
            blob, compressed = pack(data, policy)
        elif record.compressed:
            blob, compressed = gzip.compress(data, compresslevel=6, mtime=0), True
        else:
            blob, compressed = data, False
        text = search_text(record.key, record.value)
        row = {
            "id": memory_id,
            "tenant": record.tenant,
            "namespace": record.namespace,
            "key": record.key,
            "value": blob,
            "compressed": int(compressed),
            "size": len(data),
            "type": record.type or lifecycle.DEFAULT_TYPE,
            "agent_id": record.agent_id,
            "session_id": record.session_id,
            "tags": orjson.dumps(record.tags).decode(),
            "metadata": orjson.dumps(record.metadata).decode(),
            "importance": (
                lifecycle.DEFAULT_IMPORTANCE if record.importance is None else record.importance
            ),
            "reward": record.reward,
            "conflicts": orjson.dumps(record.conflicts).decode() if record.conflicts else None,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "accessed_at": record.accessed_at,
            "expires_at": record.expires_at,
            "last_decay_at": record.last_decay_at,
            "promoted_at": record.promoted_at,
            "access_count": record.access_count,
            "content_hash": content_hash(text),
            "embedding_model": self.model if vector is not None else None,
            "archived_at": record.archived_at,
            "archive_reason": record.archive_reason,
        }
        return row, text

    def _merge(self, record: Record, existing: Memory, policy: Policy) -> None:
        """Replay the imported write(s) through the store's conflict resolver."""
        assert record.updated_at is not None and record.tenant is not None
        ttl = 0.0
        if record.expires_at is not None:
            ttl = max(record.expires_at - record.updated_at, SAME_TIME)
        writes: list[tuple[Any, float, str | None, bool]] = [
            (record.value, record.updated_at, record.agent_id, True)
        ]
        if policy.conflict_strategy == "multi_value":
            writes += [(c["value"], c["timestamp"], c["agent_id"], False) for c in record.conflicts]
        current, changed = existing, False
        for value, stamp, agent, primary in writes:
            if _already_has(current, value, stamp, policy.conflict_strategy):
                continue
            request = lifecycle.StoreRequest(
                tenant=record.tenant,
                namespace=record.namespace,
                key=record.key,
                value=value,
                ttl_seconds=ttl,
                importance=record.importance if primary else None,
                type=record.type if primary else None,
                tags=record.tags if primary else None,
                metadata=record.metadata if primary else None,
                agent_id=agent,
                session_id=record.session_id if primary else None,
                reward=record.reward if primary else None,
                timestamp=stamp,
            )
            try:
                result = lifecycle.resolve_conflict(self.db, policy, request, current, stamp)
            except BadInput as exc:
                raise BadInput(f"{record.location}: {exc}; nothing imported") from None
            changed = changed or result.action != "ignored"
            current = result.memory
        if changed:
            self.report.merged += 1
        else:
            self.report.unchanged += 1


def _already_has(memory: Memory, value: Any, stamp: float, strategy: str) -> bool:
    """True if this exact write (value and time) is already the memory's value or one of
    its kept conflict values: importing the same file twice changes nothing. A counter
    holds a sum, so there a write counts as applied when the counter was last updated at
    the write's own time (merging sets it to the newest write's time)."""
    if strategy == "counter":
        return abs(memory.updated_at - stamp) < SAME_TIME
    wanted = _canonical(value)
    if abs(memory.updated_at - stamp) < SAME_TIME and _canonical(memory.value) == wanted:
        return True
    return any(
        abs(float(c.get("timestamp", 0)) - stamp) < SAME_TIME
        and _canonical(c.get("value")) == wanted
        for c in memory.conflicts
    )
