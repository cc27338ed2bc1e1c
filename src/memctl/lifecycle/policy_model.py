"""What policies.yaml says, as values: the effective ``Policy`` of a path, and
``Policies``, which finds it (first matching rule wins) and numbers the rules for the
set-based jobs (docs/policies.md). Read from YAML by ``policy_reader``."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from memctl.lifecycle.globs import GlobIndex, literal_prefix

CLEANUP_STRATEGIES = ("lazy", "scheduled", "manual")
CONFLICT_STRATEGIES = ("lww", "multi_value", "counter")
ON_EXPIRE = ("archive", "delete")
SCHEDULE_JOBS = ("cleanup", "decay", "prune", "promote", "snapshot", "compact")


@dataclass(frozen=True)
class Decay:
    idle_7d_per_day: float = 0.1
    idle_30d_per_day: float = 0.2
    floor: float = 1.0
    access_boost: float = 0.1


@dataclass(frozen=True)
class Policy:
    """The effective settings for one path: defaults overlaid by the matching rule."""

    ttl_seconds: int = 0
    cleanup_strategy: str = "scheduled"
    conflict_strategy: str = "lww"
    compression_enabled: bool = True
    compression_threshold_bytes: int = 1024
    on_expire: str = "archive"
    decay: Decay = field(default_factory=Decay)
    archive_retention_days: float = 90
    keep_archived_importance: float = 8
    max_age_days: float | None = None  # prune: archive active memories older than this
    min_reward: float | None = None  # prune: archive episodes rewarded below this
    max_entries: int | None = None  # prune: keep at most this many per namespace
    pattern: str | None = None  # None: the defaults
    rule_index: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class Promotion:
    min_importance: float = 8
    min_access_count: int = 5
    min_age_days: float = 14
    types: tuple[str, ...] = ("error_pattern", "success_pattern", "learning")
    target_namespace: str = "knowledge/promoted"


@dataclass(frozen=True)
class Alerts:
    """``alerts:`` (docs/serve.md): when lifecycle events become alerts, and how long
    events are kept."""

    # alert:growth when one agent's active memories pass this many; 10,000 is the
    # parent-harness seed's figure
    max_memories_per_agent: int = 10_000
    # prune deletes events older than this (an event per store: ~150 bytes each)
    events_retention_days: float = 30


# Up to this many rules, testing each row against every rule in SQL costs less than
# finding which rules the stored namespaces can reach. Beyond, every row paid for every
# rule: cleanup of 10k expired memories under 20k rules took 121 s (scripts/bench_rules.py).
NARROW_OVER = 32


@dataclass(frozen=True)
class Policies:
    source: str
    defaults: Policy
    rules: tuple[Policy, ...]
    promotion: Promotion
    schedule: dict[str, str]
    embedding_model: str
    alerts: Alerts = field(default_factory=Alerts)

    @cached_property
    def index(self) -> GlobIndex:
        """The rules' patterns by literal prefix (built on first use)."""
        return GlobIndex([rule.pattern for rule in self.rules])

    def for_path(self, path: str) -> Policy:
        """The first rule whose pattern matches ``namespace/key``, else the defaults."""
        found = self.index.first(path)
        return self.defaults if found is None else self.rules[found]

    def split_path(self, path: str) -> tuple[str, str]:
        """Namespace and key of a bare path (docs/addressing.md): the literal folder part of
        the matching rule's pattern, else the first segment, else ``default``."""
        rule = self.for_path(path)
        if rule.pattern is not None:
            prefix = literal_prefix(rule.pattern)
            if "/" in prefix:
                namespace = prefix[: prefix.rindex("/")]
                if path.startswith(namespace + "/") and len(path) > len(namespace) + 1:
                    return namespace, path[len(namespace) + 1 :]
        if "/" in path:
            namespace, key = path.split("/", 1)
            if namespace and key:
                return namespace, key
        return "default", path

    # Set-based jobs compute each row's rule in SQL (``store.rules.rule_case``): rule
    # ``i`` is ``rules[i]`` and index ``len(rules)`` stands for the defaults.

    def patterns(self, namespaces: Callable[[], Iterable[str]] | None = None) -> list[str | None]:
        """The rules' path globs, in order (what ``store.rules.rule_case`` tests).

        With more than ``NARROW_OVER`` rules and ``namespaces`` (a function returning the
        stored namespaces, called in the transaction that uses the result), a rule no
        stored path can reach is None, which leaves it out of the SQL."""
        patterns: list[str | None] = [rule.pattern or "" for rule in self.rules]
        if namespaces is None or len(patterns) <= NARROW_OVER:
            return patterns
        reachable = self.index.reachable(f"{ns}/" for ns in namespaces())
        return [pattern if i in reachable else None for i, pattern in enumerate(patterns)]

    def by_index(self, index: int) -> Policy:
        """The policy of a rule index as computed in SQL (``len(rules)``: the defaults)."""
        return self.rules[index] if index < len(self.rules) else self.defaults

    def indexed(self) -> list[Policy]:
        """Every rule, then the defaults: position ``i`` is rule index ``i``."""
        return [*self.rules, self.defaults]
