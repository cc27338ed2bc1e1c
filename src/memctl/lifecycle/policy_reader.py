"""policies.yaml read into ``Policies``: the YAML node tree walked so every problem names
its line, and every problem reported at once (fixing them one run at a time wore users
out)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import yaml

from memctl import limits
from memctl.errors import BadInput
from memctl.lifecycle.globs import check_rule_glob
from memctl.lifecycle.policy_model import (
    CLEANUP_STRATEGIES,
    CONFLICT_STRATEGIES,
    ON_EXPIRE,
    SCHEDULE_JOBS,
    Alerts,
    Decay,
    Policies,
    Policy,
    Promotion,
)
from memctl.lifecycle.schedules import parse_schedule

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def parse_policies(text: str, source: str) -> Policies:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise BadInput(f"{source}:{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{source}: invalid YAML: {exc}") from None
    reader = _Reader(source)
    if root is not None:
        reader.check_tags(root)
        reader.raise_problems()  # tagged nodes cannot be read further
    policies = reader.policies(root)
    reader.raise_problems()
    return policies


# ---------------------------------------------------------------- validation

# Plain YAML only: the tags SafeLoader builds (str, int, float, bool, null, map, seq...).
# Anything else (``!!python/object/apply:...``, ``!custom``) is refused by line before
# any value is built; SafeLoader would refuse it too, but as an unlocated internal error.
_PLAIN_TAGS = frozenset(tag for tag in yaml.SafeLoader.yaml_constructors if tag is not None)
_YAML_PREFIX = "tag:yaml.org,2002:"
_DAYS = limits.DAYS
_DECAY_RATE = limits.Range(0.0, 10.0, "0 to 10")
_VERSION = limits.Range(1, 1, "1", True)


class _Reader:
    """Walks the YAML node tree so every error can name its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.constructor = yaml.SafeLoader("")  # per file: it caches what it built
        self.problems: list[str] = []

    def fail(self, node: yaml.Node, where: str, problem: str) -> BadInput:
        return BadInput(f"{self.source}:{node.start_mark.line + 1}: {where}: {problem}")

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Note a problem found in the block and go on with the next part of the file."""
        try:
            yield
        except BadInput as exc:
            self.problems.append(str(exc))

    def _line(self, problem: str) -> int:
        head = problem[len(self.source) + 1 :].split(":", 1)[0]
        return int(head) if head.isdigit() else 0

    def raise_problems(self) -> None:
        """One BadInput naming every problem found (the first line says how many)."""
        if len(self.problems) == 1:
            raise BadInput(self.problems[0])
        if self.problems:
            listed = "\n".join(f"  {problem}" for problem in sorted(self.problems, key=self._line))
            raise BadInput(f"{self.source}: {len(self.problems)} problems:\n{listed}")

    def check_tags(self, root: yaml.Node) -> None:
        """Refuse any node tagged other than plain YAML, naming its line."""
        stack, seen = [root], set()
        while stack:
            node = stack.pop()
            if id(node) in seen:  # aliases share nodes
                continue
            seen.add(id(node))
            if node.tag not in _PLAIN_TAGS:
                shown = str(node.tag).replace(_YAML_PREFIX, "!!")
                self.problems.append(
                    f"{self.source}:{node.start_mark.line + 1}: YAML tag {shown!r} is not "
                    "allowed (policies are plain YAML: no tags)"
                )
            if isinstance(node, yaml.MappingNode):
                stack.extend(item for pair in node.value for item in pair)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)

    def construct(self, node: yaml.Node, where: str) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            tag = str(node.tag).replace(_YAML_PREFIX, "!!")
            raise self.fail(node, where, f"cannot read this {tag} value") from None

    def mapping(self, node: yaml.Node, where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.construct(key_node, where)
            if not isinstance(key, str):
                raise self.fail(key_node, where, f"key {key!r} is not a string")
            if key in out:
                raise self.fail(key_node, where, f"duplicate key {key!r}")
            out[key] = (key_node, value_node)
        return out

    def check_keys(
        self, items: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...], where: str
    ) -> None:
        """Note every unknown key (and drop it, so the rest of the block is still read)."""
        for key, (key_node, _) in list(items.items()):
            if key not in allowed:
                self.problems.append(
                    str(
                        self.fail(
                            key_node, where, f"unknown key {key!r} (allowed: {', '.join(allowed)})"
                        )
                    )
                )
                del items[key]

    def scalar(
        self,
        node: yaml.Node,
        where: str,
        kind: str,
        allowed: limits.Range | None = None,
        choices: tuple[str, ...] = (),
    ) -> Any:
        value = self.construct(node, where)
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(node, where, f"expected a whole number, got {value!r}")
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise self.fail(node, where, f"expected a number, got {value!r}")
        if kind == "bool" and not isinstance(value, bool):
            raise self.fail(node, where, f"expected true or false, got {value!r}")
        if kind == "str" and not isinstance(value, str):
            raise self.fail(node, where, f"expected a string, got {value!r}")
        if choices and value not in choices:
            raise self.fail(node, where, f"{value!r} is not one of {', '.join(choices)}")
        if allowed is not None:
            problem = limits.problem(value, allowed)
            if problem:
                raise self.fail(node, where, f"{value!r} {problem}")
        return value

    def policy(
        self, node: yaml.Node, where: str, base: Policy, rule_index: int | None = None
    ) -> Policy:
        """The defaults (``rule_index`` None) or rule number ``rule_index``."""
        is_rule = rule_index is not None
        items = self.mapping(node, where)
        fields: tuple[str, ...] = (
            "ttl_seconds",
            "cleanup_strategy",
            "conflict_strategy",
            "compression_enabled",
            "compression_threshold_bytes",
            "on_expire",
            "decay",
            "archive_retention_days",
            "keep_archived_importance",
            "max_age_days",
            "min_reward",
            "max_entries",
        )
        self.check_keys(items, ("namespace", *fields) if is_rule else fields, where)
        spec: dict[str, tuple[str, limits.Range | None, tuple[str, ...]]] = {
            "ttl_seconds": ("int", limits.DURATION, ()),
            "cleanup_strategy": ("str", None, CLEANUP_STRATEGIES),
            "conflict_strategy": ("str", None, CONFLICT_STRATEGIES),
            "compression_enabled": ("bool", None, ()),
            "compression_threshold_bytes": ("int", limits.COUNT, ()),
            "on_expire": ("str", None, ON_EXPIRE),
            "archive_retention_days": ("number", _DAYS, ()),
            "keep_archived_importance": ("number", limits.IMPORTANCE, ()),
            "max_age_days": ("number", _DAYS, ()),
            "min_reward": ("number", limits.REWARD, ()),
            "max_entries": ("int", limits.POSITIVE_COUNT, ()),
        }
        changes: dict[str, Any] = {"line": node.start_mark.line + 1, "rule_index": rule_index}
        for key, (_, value_node) in items.items():
            here = f"{where}.{key}"
            with self.collecting():
                if key == "namespace":
                    pattern = self.scalar(value_node, here, "str")
                    problem = check_rule_glob(pattern)
                    if problem:
                        raise self.fail(value_node, here, f"bad glob {pattern!r}: {problem}")
                    changes["pattern"] = pattern
                elif key == "decay":
                    changes["decay"] = self.decay(value_node, here, base.decay)
                else:
                    kind, allowed, choices = spec[key]
                    changes[key] = self.scalar(value_node, here, kind, allowed, choices)
        if is_rule and "pattern" not in changes and "namespace" not in items:
            raise self.fail(node, where, "a rule needs a 'namespace' pattern")
        return replace(base, **changes)

    def decay(self, node: yaml.Node, where: str, base: Decay) -> Decay:
        items = self.mapping(node, where)
        allowed = ("idle_7d_per_day", "idle_30d_per_day", "floor", "access_boost")
        self.check_keys(items, allowed, where)
        changes = {}
        for key, (_, value_node) in items.items():
            with self.collecting():
                changes[key] = float(
                    self.scalar(value_node, f"{where}.{key}", "number", _DECAY_RATE)
                )
        return replace(base, **changes)

    def promotion(self, node: yaml.Node, where: str) -> Promotion:
        items = self.mapping(node, where)
        allowed = (
            "min_importance",
            "min_access_count",
            "min_age_days",
            "types",
            "target_namespace",
        )
        self.check_keys(items, allowed, where)
        changes: dict[str, Any] = {}
        for key, (_, value_node) in items.items():
            with self.collecting():
                changes[key] = self.promotion_value(key, value_node, f"{where}.{key}")
        return replace(Promotion(), **changes)

    def promotion_value(self, key: str, value_node: yaml.Node, here: str) -> Any:
        if key == "types":
            if not isinstance(value_node, yaml.SequenceNode):
                raise self.fail(value_node, here, "expected a list of memory types")
            return tuple(self.scalar(item, here, "str") for item in value_node.value)
        if key == "target_namespace":
            target = self.scalar(value_node, here, "str")
            if not target or "*" in target or target.startswith("/"):
                raise self.fail(value_node, here, f"{target!r} is not a namespace")
            return target
        if key == "min_access_count":
            return self.scalar(value_node, here, "int", limits.COUNT)
        if key == "min_importance":
            return self.scalar(value_node, here, "number", limits.KEPT_IMPORTANCE)
        return self.scalar(value_node, here, "number", _DAYS)

    def alerts(self, node: yaml.Node, where: str) -> Alerts:
        items = self.mapping(node, where)
        self.check_keys(items, ("max_memories_per_agent", "events_retention_days"), where)
        changes: dict[str, Any] = {}
        for key, (_, value_node) in items.items():
            here = f"{where}.{key}"
            with self.collecting():
                if key == "max_memories_per_agent":
                    changes[key] = self.scalar(value_node, here, "int", limits.POSITIVE_COUNT)
                else:
                    changes[key] = float(self.scalar(value_node, here, "number", _DAYS))
        return replace(Alerts(), **changes)

    def schedule(self, node: yaml.Node, where: str) -> dict[str, str]:
        items = self.mapping(node, where)
        self.check_keys(items, SCHEDULE_JOBS, where)
        out = {}
        for key, (_, value_node) in items.items():
            with self.collecting():
                text = self.scalar(value_node, f"{where}.{key}", "str")
                try:
                    parse_schedule(text)
                except ValueError as exc:
                    raise self.fail(value_node, f"{where}.{key}", str(exc)) from None
                out[key] = text
        return out

    def policies(self, root: yaml.Node | None) -> Policies:
        if root is None:
            return Policies(self.source, Policy(), (), Promotion(), {}, "all-MiniLM-L6-v2")
        items = self.mapping(root, "policies")
        allowed = (
            "version",
            "defaults",
            "namespaces",
            "promotion",
            "schedule",
            "embedding",
            "alerts",
        )
        self.check_keys(items, allowed, "policies")
        if "version" in items:
            with self.collecting():
                self.scalar(items["version"][1], "version", "int", _VERSION)
        defaults = Policy()
        if "defaults" in items:
            with self.collecting():
                defaults = self.policy(items["defaults"][1], "defaults", defaults)
        rules: list[Policy] = []
        if "namespaces" in items:
            seq = items["namespaces"][1]
            if not isinstance(seq, yaml.SequenceNode):
                self.problems.append(str(self.fail(seq, "namespaces", "expected a list of rules")))
            else:
                for index, rule_node in enumerate(seq.value):
                    with self.collecting():
                        rules.append(
                            self.policy(rule_node, f"namespaces[{index}]", defaults, index)
                        )
        promotion = Promotion()
        if "promotion" in items:
            with self.collecting():
                promotion = self.promotion(items["promotion"][1], "promotion")
        schedule: dict[str, str] = {}
        if "schedule" in items:
            with self.collecting():
                schedule = self.schedule(items["schedule"][1], "schedule")
        model = "all-MiniLM-L6-v2"
        if "embedding" in items:
            with self.collecting():
                emb = self.mapping(items["embedding"][1], "embedding")
                self.check_keys(emb, ("model",), "embedding")
                if "model" in emb:
                    model = self.scalar(emb["model"][1], "embedding.model", "str")
        alerts = Alerts()
        if "alerts" in items:
            with self.collecting():
                alerts = self.alerts(items["alerts"][1], "alerts")
        return Policies(self.source, defaults, tuple(rules), promotion, schedule, model, alerts)
