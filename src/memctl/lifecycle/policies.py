"""Policies: which ``policies.yaml`` applies, and loading it (docs/policies.md).

The values live in ``policy_model`` and the YAML is read by ``policy_reader``; the names
are re-exported here, the one import for the rest of memctl. A bad file is rejected as
``file:line: where: what is wrong`` (BadInput, exit 2), every problem at once.
"""

from pathlib import Path

from memctl.errors import BadInput
from memctl.lifecycle.policy_model import (
    CLEANUP_STRATEGIES,
    CONFLICT_STRATEGIES,
    NARROW_OVER,
    ON_EXPIRE,
    SCHEDULE_JOBS,
    Alerts,
    Decay,
    Policies,
    Policy,
    Promotion,
)
from memctl.lifecycle.policy_reader import parse_policies
from memctl.paths import PACKAGED_POLICIES, find_policies_file

__all__ = [
    "CLEANUP_STRATEGIES",
    "CONFLICT_STRATEGIES",
    "NARROW_OVER",
    "ON_EXPIRE",
    "PACKAGED_POLICIES",
    "SCHEDULE_JOBS",
    "Alerts",
    "Decay",
    "Policies",
    "Policy",
    "Promotion",
    "find_policies_file",
    "load_policies",
    "parse_policies",
]


def load_policies(path: Path) -> Policies:
    """Read and validate one policies file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: policies file not found") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not valid UTF-8") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read policies: {exc.strerror}") from None
    return parse_policies(text, str(path))
