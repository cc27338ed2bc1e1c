"""Import, pass 2: records written in batches inside the import's one write transaction,
each batch's conflicts with stored memories looked up in one query (``on_conflict``:
skip, overwrite, or merge through the store's own resolver).

Rows are built by ``lifecycle.memories.new_row``, as ``store`` builds them: the import
keeps a record's times, counts and (if the export said) compression, and reuses its
vector when it carries the current model id.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from memctl.errors import BadInput
from memctl.lifecycle import memories as lifecycle
from memctl.lifecycle.expiry import expire, expires_at
from memctl.lifecycle.policies import Policies, Policy
from memctl.models import Memory
from memctl.progress import Progress
from memctl.store import moves
from memctl.store import transfer as sql
from memctl.store.db import Database
from memctl.transfer.records import RECORD_FIELDS, Record

if TYPE_CHECKING:
    from memctl.transfer.importer import ImportOptions, ImportReport

BATCH = 500
SAME_TIME = 1e-3  # seconds: times equal after an ISO round trip

Path3 = tuple[str, str, str]


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


class Writer:
    def __init__(
        self,
        db: Database,
        policies: Policies,
        now: float,
        options: "ImportOptions",
        report: "ImportReport",
        model: str | None,
    ) -> None:
        self.db = db
        self.policies = policies
        self.now = now
        self.options = options
        self.report = report
        self.model = model
        # the ids written (created, overwritten, archived, merged) per tenant: the
        # memory:imported events
        self.written: dict[str, list[int]] = {}

    def run(self, records: Iterator[Record], progress: Progress) -> int:
        """Write every record; returns how many were processed."""
        processed = 0
        for batch in _batches(records):
            self._batch(batch)
            processed += len(batch)
            progress.advance(len(batch))
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
            expire(self.db, to_expire, self.policies, self.now, "import")
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
        ids = sql.new_ids(self.db, len(records))  # unique across memories and archive
        for record, memory_id in zip(records, ids, strict=True):
            vector = record.embedding if id(record) in keep else None
            row, text = self._row(memory_id, record, policies[id(record)], vector)
            rows[record.archived].append(row)
            self.written.setdefault(row["tenant"], []).append(memory_id)
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
        fields = {name: getattr(record, name) for name in RECORD_FIELDS}
        fields["id"] = memory_id
        fields["embedding_model"] = self.model if vector is not None else None
        return lifecycle.new_row(policy, fields, compressed=record.compressed)

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
            self.written.setdefault(record.tenant, []).append(current.id)
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
