"""Files: atomic private output (temporary name in the target folder, mode 0600, renamed
into place) and input with transparent gzip, where a corrupt stream or bad JSON is one
BadInput line naming the file (and line)."""

import contextlib
import gzip
import os
import secrets
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from memctl.errors import BadInput, StorageError

GZIP_MAGIC = b"\x1f\x8b"
SQLITE_MAGIC = b"SQLite format 3\x00"


def temp_sibling(target: Path) -> Path:
    """An unused, hidden name next to ``target`` (same folder, so rename is atomic)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def create_private(path: Path) -> int:
    """Create ``path`` (must not exist) with mode 0600; returns the open descriptor."""
    try:
        return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}") from None


def check_target(target: Path) -> None:
    if target.is_dir():
        raise BadInput(f"{target} is a directory")
    if not target.parent.is_dir():
        raise BadInput(f"folder {target.parent} does not exist")


def publish(temp: Path, target: Path) -> None:
    """fsync and rename ``temp`` over ``target``, then fsync the folder."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, 0o600)
    os.replace(temp, target)
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``target`` only if the block succeeds; gzip when the
    name ends in ``.gz``. On any error the temporary file is removed."""
    check_target(target)
    temp = temp_sibling(target)
    fd = create_private(temp)
    try:
        with os.fdopen(fd, "wb") as raw:
            if target.name.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
                    yield cast(IO[bytes], packed)
            else:
                yield raw
        publish(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def sniff(path: Path) -> bytes:
    """The first bytes of an input file (its magic number)."""
    try:
        with path.open("rb") as handle:
            return handle.read(16)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, gunzipped when it is gzip data."""
    with path.open("rb") as handle:
        if handle.read(2) == GZIP_MAGIC:
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
                yield cast(IO[bytes], unpacked)
        else:
            handle.seek(0)
            yield handle


GZIP_ERRORS = (OSError, EOFError, zlib.error)


@contextlib.contextmanager
def _gzip_checked(path: Path, after_line: int | None = None) -> Iterator[None]:
    """A truncated or corrupt gzip stream becomes one BadInput line naming the file."""
    try:
        yield
    except GZIP_ERRORS as exc:
        where = f" after line {after_line}" if after_line else ""
        raise BadInput(f"{path}: gzip data is truncated or corrupt{where} ({exc})") from None


def head(path: Path, size: int = 64) -> bytes:
    """The first bytes of the (decompressed) content."""
    with open_input(path) as stream, _gzip_checked(path):
        return stream.read(size)


def first_line(path: Path) -> bytes:
    """The first line of the (decompressed) content."""
    with open_input(path) as stream, _gzip_checked(path):
        return stream.readline()


def read_all(path: Path) -> bytes:
    """The whole (decompressed) content."""
    with open_input(path) as stream, _gzip_checked(path):
        return stream.read()


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of the (decompressed) content, one line in memory at a time."""
    with open_input(path) as stream:
        line_no = 0
        while True:
            with _gzip_checked(path, line_no):
                line = stream.readline()
            if not line:
                return
            line_no += 1
            yield line_no, line


def parse_json(data: bytes, where: str, what: str = "not valid JSON") -> Any:
    """``data`` as JSON, or BadInput ``where: what (the parser's reason)``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{where}: {what} ({exc})") from None
