"""Named errors raised by the library; the CLI turns them into exit codes (docs/cli.md)."""


class MemctlError(Exception):
    """Base class: a one-line message and the exit code it maps to."""

    exit_code = 3
    kind = "error"


class NotFound(MemctlError):
    """Recall/restore of something that does not exist (exit 1)."""

    exit_code = 1
    kind = "not_found"


class BadInput(MemctlError):
    """Bad usage or bad input: policies, import files, arguments (exit 2)."""

    exit_code = 2
    kind = "bad_input"


class StorageError(MemctlError):
    """Locked past the timeout, corrupt or foreign database, disk full (exit 3)."""

    exit_code = 3
    kind = "storage"


class InternalError(MemctlError):
    """A bug or an unexpected failure; reported in one line like the others (exit 3)."""

    exit_code = 3
    kind = "internal"


class Conflict(BadInput):
    """The request is valid but clashes with what is stored (restoring onto an active
    memory); exit 2 like any refused input, HTTP 409."""

    kind = "conflict"


class Forbidden(BadInput):
    """A read-only API token asked for a write (HTTP 403; exit 2)."""

    kind = "forbidden"


def from_kind(kind: str, message: str) -> MemctlError:
    """The error a ``{"kind", "message"}`` document describes (the warm path's answers)."""
    for cls in (NotFound, BadInput, StorageError, InternalError, Conflict, Forbidden):
        if cls.kind == kind:
            return cls(message)
    return MemctlError(message)
