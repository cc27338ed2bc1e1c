"""Memory values: parsing, validation, size limit, transparent gzip, text for search."""

import gzip
import hashlib
import re
from typing import Any

import orjson

from memctl.errors import BadInput
from memctl.lifecycle.policies import Policy

MAX_VALUE_BYTES = 1024 * 1024  # serialized JSON; documented in the README
MAX_PATH_CHARS = 1024
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_PUNCTUATION = str.maketrans('{}[]"', "     ")


def check_text(text: str, what: str) -> str:
    """Reject text that is not valid UTF-8 (lone surrogates from undecodable argv/stdin)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid UTF-8") from None
    return text


def check_tenant(tenant: str) -> str:
    """A tenant name: 1-64 letters, digits, ``_``, ``.``, ``@`` or ``-`` (not first)."""
    if not _TENANT.fullmatch(tenant):
        raise BadInput(f"tenant {tenant!r} must be 1-64 letters, digits, '_', '.', '@' or '-'")
    return tenant


def decode_utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def parse_value(text: str, as_string: bool = False) -> Any:
    """A command-line value: JSON if it parses as JSON, else the text (``--string`` forces text)."""
    check_text(text, "value")
    if as_string:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def serialize(value: Any) -> bytes:
    """The value as compact JSON, within the size limit."""
    try:
        data = orjson.dumps(value)
    except TypeError as exc:
        raise BadInput(f"value cannot be stored as JSON: {exc}") from None
    if len(data) > MAX_VALUE_BYTES:
        raise BadInput(f"value is {len(data):,} bytes; the limit is {MAX_VALUE_BYTES:,} bytes")
    return data


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def pack(data: bytes, policy: Policy) -> tuple[bytes, bool]:
    """gzip when enabled, over the threshold, and actually smaller."""
    if policy.compression_enabled and len(data) > policy.compression_threshold_bytes:
        packed = _gzip(data)
        if len(packed) < len(data):
            return packed, True
    return data, False


def stored_value(
    policy: Policy, key: str, value: Any, compressed: bool | None = None
) -> tuple[dict[str, Any], str]:
    """How a value is stored: its JSON (gzip as ``pack`` decides, or as ``compressed``
    forces: an import keeps the export's choice), its size, and the hash of the text it
    is searched by (``content_hash``); with that text."""
    data = serialize(value)
    if compressed is None:
        blob, packed = pack(data, policy)
    else:
        blob, packed = (_gzip(data), True) if compressed else (data, False)
    text = search_text(key, value)
    columns = {"value": blob, "compressed": packed, "size": len(data)}
    columns["content_hash"] = content_hash(text)
    return columns, text


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_text(value: Any) -> str:
    """A value rendered as plain text (strings as they are, JSON without its punctuation)."""
    if isinstance(value, str):
        return value
    text = orjson.dumps(value).decode()
    return text.translate(_PUNCTUATION).strip()


def search_text(key: str, value: Any) -> str:
    """What is embedded and keyword-indexed: the key's words, then the value's text."""
    words = key.replace("/", " ").replace("_", " ").replace("-", " ")
    return f"{words}: {value_text(value)}"


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
