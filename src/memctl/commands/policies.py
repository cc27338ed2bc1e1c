"""policies show / policies explain."""

from dataclasses import asdict
from typing import Annotated, Any

import typer

from memctl.commands.common import Settings, command
from memctl.lifecycle.policies import Policy

group = typer.Typer(
    help="Show the policies in use and which rule applies to a path.", no_args_is_help=True
)
app = typer.Typer()  # no top-level commands: `memctl policies ...` is a group
groups = [("policies", group)]


def policy_dict(policy: Policy) -> dict[str, Any]:
    data = asdict(policy)
    data.pop("line")
    data.pop("rule_index")
    return data


@command(group, "show")
def show_cmd(settings: Settings) -> None:
    """Print the policies file in use and its resolved rules.

    Example: memctl policies show --json
    """
    p = settings.policies
    if settings.json:
        settings.out.document(
            {
                "source": p.source,
                "defaults": policy_dict(p.defaults),
                "rules": [policy_dict(rule) for rule in p.rules],
                "promotion": asdict(p.promotion),
                "schedule": p.schedule,
                "embedding": {"model": p.embedding_model},
                "alerts": asdict(p.alerts),
            }
        )
        return
    settings.out.line(f"policies: {p.source}")
    rows = [
        [
            rule.pattern or "(defaults)",
            rule.ttl_seconds or "never",
            rule.cleanup_strategy,
            rule.conflict_strategy,
            rule.on_expire,
            f"{rule.compression_threshold_bytes}" if rule.compression_enabled else "off",
        ]
        for rule in (*p.rules, p.defaults)
    ]
    settings.out.table(
        None, ["namespace", "ttl_s", "cleanup", "conflict", "on_expire", "compress>"], rows
    )
    promo = p.promotion
    settings.out.line(
        f"promotion: importance>={promo.min_importance:g}, accesses>={promo.min_access_count}, "
        f"age>={promo.min_age_days:g}d, types={','.join(promo.types)} -> {promo.target_namespace}"
    )
    settings.out.line("schedule: " + ", ".join(f"{k} {v}" for k, v in p.schedule.items()))
    settings.out.line(f"embedding: {p.embedding_model}")
    settings.out.line(
        f"alerts: growth over {p.alerts.max_memories_per_agent} memories per agent, "
        f"events kept {p.alerts.events_retention_days:g} days"
    )


@command(group, "explain")
def explain_cmd(
    settings: Settings,
    path: Annotated[str, typer.Argument(help="A memory path, e.g. coordination/agent1/progress.")],
) -> None:
    """Say which rule applies to PATH, and why.

    Example: memctl policies explain coordination/agent1/progress
    """
    p = settings.policies
    policy = p.for_path(path)
    namespace, key = p.split_path(path)
    # first match wins: every earlier rule is one that does not match
    earlier = p.rules if policy.rule_index is None else p.rules[: policy.rule_index]
    skipped = [rule.pattern for rule in earlier if rule.pattern]
    if settings.json:
        settings.out.document(
            {
                "path": path,
                "namespace": namespace,
                "key": key,
                "source": p.source,
                "rule": policy.pattern,
                "rule_index": policy.rule_index,
                "line": policy.line,
                "skipped": skipped,
                "policy": policy_dict(policy),
            }
        )
        return
    if policy.pattern is None:
        settings.out.line(f"{path}: no rule matches; the defaults apply ({p.source})")
    else:
        settings.out.line(
            f'{path}: rule #{policy.rule_index} "{policy.pattern}" ({p.source}:{policy.line}) '
            "is the first that matches"
        )
    if skipped:
        settings.out.line(
            "earlier rules that do not match: " + ", ".join(f'"{rule}"' for rule in skipped)
        )
    settings.out.line(f'namespace "{namespace}", key "{key}"')
    for name, value in policy_dict(policy).items():
        if name != "pattern":
            settings.out.line(f"  {name}: {yaml_text(value)}")


def yaml_text(value: Any) -> str:
    """A policy value as policies.yaml would spell it: true/false, nested mappings inline;
    an optional rule that is not set says so (rather than Python's None)."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
