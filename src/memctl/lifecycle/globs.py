"""memctl globs: ``*`` matches any run of characters, ``/`` included; nothing else is special."""

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
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


class GlobIndex:
    """First-match-wins lookup over many globs, by their literal prefixes.

    A glob can only match text that starts with its literal prefix (the part before the
    first ``*``), so a lookup checks just the globs whose prefix begins the text: one
    dict probe per distinct prefix length instead of one regex per glob. With 20,000
    policy rules ``team<i>/*`` a path's rule took ~250 ms (a regex compile per rule: the
    compile cache holds 256) and now takes microseconds (scripts/bench_rules.py).
    Globs that start with ``*`` have an empty prefix and are checked for every text.
    """

    def __init__(self, patterns: Sequence[str | None]) -> None:
        self._patterns = patterns
        self._by_prefix: dict[str, list[int]] = {}
        for index, pattern in enumerate(patterns):
            if pattern is not None:
                self._by_prefix.setdefault(literal_prefix(pattern), []).append(index)
        self._lengths = sorted({len(prefix) for prefix in self._by_prefix})
        self._sorted = sorted(self._by_prefix)
        self._compiled: dict[int, re.Pattern[str]] = {}

    def first(self, text: str) -> int | None:
        """The index of the first glob matching all of ``text``, or None."""
        candidates: list[int] = []
        for length in self._lengths:
            if length > len(text):
                break
            candidates.extend(self._by_prefix.get(text[:length], ()))
        for index in sorted(candidates):
            regex = self._compiled.get(index)
            if regex is None:
                regex = self._compiled[index] = compile_glob(str(self._patterns[index]))
            if regex.fullmatch(text):
                return index
        return None

    def reachable(self, starts: Iterable[str]) -> set[int]:
        """Indexes of the globs that may match some text beginning with one of
        ``starts``: their prefix begins the start, or the start begins their prefix."""
        out: set[int] = set()
        for start in starts:
            for length in self._lengths:
                if length > len(start):
                    break
                out.update(self._by_prefix.get(start[:length], ()))
            at = bisect_left(self._sorted, start)
            while at < len(self._sorted) and self._sorted[at].startswith(start):
                out.update(self._by_prefix[self._sorted[at]])
                at += 1
        return out
