"""memctl globs: ``*`` matches any run of characters, ``/`` included; nothing else is special."""

import re
from functools import lru_cache

from memctl.errors import BadInput


def check_glob(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid glob, or None if it is."""
    if not pattern:
        return "pattern is empty"
    if any((ch.isspace() and ch != " ") or ord(ch) < 32 for ch in pattern):
        return "pattern contains control characters"
    return None


def check_rule_glob(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid policy rule, or None. Stricter than a command's
    glob: a rule starting with '/' or holding '//' can only be a typo for a namespace
    (a command's glob may name any stored path, ``a//b`` included)."""
    if pattern.startswith("/"):
        return "pattern starts with '/'"
    if "//" in pattern:
        return "pattern contains '//'"
    return check_glob(pattern)


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    problem = check_glob(pattern)
    if problem:
        raise BadInput(f"bad pattern {pattern!r}: {problem}")
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    return compile_glob(pattern).fullmatch(text) is not None


def is_glob(text: str) -> bool:
    return "*" in text


def literal_prefix(pattern: str) -> str:
    """The part of the pattern before its first ``*``."""
    return pattern.split("*", 1)[0]
