"""The API tokens of ``memctl serve`` (docs/serve.md): a name, a tenant, read-only or not,
and a hash of the token; the token itself is never stored."""

from dataclasses import dataclass
from typing import Any

from memctl.store.db import Database


@dataclass
class TokenRow:
    id: int
    name: str
    tenant: str
    read_only: bool
    created_at: float


_COLUMNS = "id, name, tenant, read_only, created_at"


def _row(row: Any) -> TokenRow:
    return TokenRow(
        int(row["id"]),
        row["name"],
        row["tenant"],
        bool(row["read_only"]),
        float(row["created_at"]),
    )


def insert(
    db: Database, name: str, tenant: str, digest: str, read_only: bool, created_at: float
) -> None:
    db.execute(
        "INSERT INTO tokens (name, tenant, hash, read_only, created_at) VALUES (?, ?, ?, ?, ?)",
        (name, tenant, digest, int(read_only), created_at),
    )


def by_hash(db: Database, digest: str) -> TokenRow | None:
    row = db.one(f"SELECT {_COLUMNS} FROM tokens WHERE hash = ?", (digest,))
    return None if row is None else _row(row)


def by_name(db: Database, name: str) -> TokenRow | None:
    row = db.one(f"SELECT {_COLUMNS} FROM tokens WHERE name = ?", (name,))
    return None if row is None else _row(row)


def names_like(db: Database, prefix: str) -> list[str]:
    return [str(r[0]) for r in db.all("SELECT name FROM tokens WHERE name LIKE ?", (prefix + "%",))]


def all_tokens(db: Database, tenant: str | None) -> list[TokenRow]:
    """Every token (of one tenant), oldest first."""
    if tenant is None:
        rows = db.all(f"SELECT {_COLUMNS} FROM tokens ORDER BY id")
    else:
        rows = db.all(f"SELECT {_COLUMNS} FROM tokens WHERE tenant = ? ORDER BY id", (tenant,))
    return [_row(row) for row in rows]


def delete(db: Database, name: str) -> int:
    return int(db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount)
