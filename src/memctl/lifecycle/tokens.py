"""API tokens of ``memctl serve`` (docs/serve.md): created, checked, listed, revoked.

A token is ``memctl_`` and 32 random bytes (URL-safe base64): it is shown once, when it
is created; the database keeps its SHA-256 only. A slow password hash would add nothing:
the token has 256 bits of entropy, so its hash cannot be reversed by guessing, and every
request checks one (a lookup by the hash's unique index, ~0.1 ms). Each token is bound
to one tenant and is read-write or read-only; revoking deletes it, and the next request
that presents it gets 401.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from memctl.clock import iso
from memctl.errors import BadInput, NotFound
from memctl.lifecycle.values import check_tenant
from memctl.store import tokens as sql
from memctl.store.db import Database

PREFIX = "memctl_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# what a presented token may look like: anything else is refused before any lookup
_TOKEN = re.compile(r"memctl_[A-Za-z0-9_-]{43}")


@dataclass
class Token:
    """A token as ``tokens list`` shows it (never the secret itself)."""

    name: str
    tenant: str
    read_only: bool
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tenant": self.tenant,
            "read_only": self.read_only,
            "created_at": iso(self.created_at),
        }


@dataclass
class Created:
    token: Token
    secret: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.token.to_dict(), "token": self.secret}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise BadInput(f"token name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def create(
    db: Database, tenant: str, now: float, *, name: str | None = None, read_only: bool = False
) -> Created:
    """A new token for ``tenant``; ``name`` defaults to ``<tenant>-<n>``."""
    check_tenant(tenant)
    if name is not None:
        check_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)
    with db.write():
        if name is None:
            taken = set(sql.names_like(db, f"{tenant}-"))
            name = next(
                f"{tenant}-{n}" for n in range(1, len(taken) + 2) if f"{tenant}-{n}" not in taken
            )
        elif sql.by_name(db, name) is not None:
            raise BadInput(
                f"a token named {name!r} exists; revoke it first or choose another --name"
            )
        sql.insert(db, name, tenant, digest(secret), read_only, now)
    return Created(Token(name, tenant, read_only, now), secret)


def authenticate(db: Database, secret: str) -> Token | None:
    """The token presented (``Authorization: Bearer ...``), or None if it is not one."""
    if not _TOKEN.fullmatch(secret):
        return None
    row = sql.by_hash(db, digest(secret))
    return None if row is None else Token(row.name, row.tenant, row.read_only, row.created_at)


def listed(db: Database, tenant: str | None) -> list[Token]:
    """Every token (of ``tenant``), oldest first."""
    with db.read():
        rows = sql.all_tokens(db, tenant)
    return [Token(r.name, r.tenant, r.read_only, r.created_at) for r in rows]


def revoke(db: Database, name: str, tenant: str | None) -> Token:
    """Delete the token ``name`` (of ``tenant``, when given); NotFound if there is none."""
    check_name(name)
    with db.write():
        row = sql.by_name(db, name)
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFound(f"no token named {name!r}" + (f" for tenant {tenant}" if tenant else ""))
        sql.delete(db, name)
    return Token(row.name, row.tenant, row.read_only, row.created_at)
