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
