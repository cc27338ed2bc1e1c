"""What a hook is given: Claude Code's JSON object on stdin and/or claude-flow-style flags.

Claude Code pipes one JSON object (``session_id``, ``cwd``, ``hook_event_name``, and per
event ``prompt``, ``reason``, ``tool_input``, ``last_assistant_message``, ...).
claude-flow shells out with flags (``--session-id X --task-id Y --export-metrics true``).
Both work, together too (a flag wins over the same stdin field). Parsing never fails on
an unknown or malformed flag: a hook must not break the agent session over its
arguments. Only stdin that is present but not a JSON object is an error.
"""

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from memctl.errors import BadInput

MAX_STDIN_BYTES = 16 * 1024 * 1024
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# Flags that never take a value (so ``--strict --session-id X`` reads right).
_SWITCHES = {"strict", "json", "quiet", "q", "force", "all_tenants", "dry_run", "debug"}


def flag_name(raw: str) -> str:
    """``--session-id`` / ``--session_id`` / ``-q`` to ``session_id`` / ``q``."""
    return raw.lstrip("-").replace("-", "_").lower()


def coerce(text: str) -> str | bool:
    """``true``/``false`` strings (any case) are booleans; everything else stays text."""
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return text


def parse_flags(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """claude-flow-style ``--name value`` / ``--name=value`` / ``--switch`` to a dict.

    A flag directly followed by another flag (or by nothing) is ``True``; a repeated flag
    keeps its last value. Words that belong to no flag are returned as positionals.
    """
    flags: dict[str, Any] = {}
    positionals: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positionals.extend(args[index:])
            break
        if not arg.startswith("-") or arg == "-" or _is_number(arg):
            positionals.append(arg)
            continue
        if "=" in arg:
            name, _, value = arg.partition("=")
            flags[flag_name(name)] = coerce(value)
            continue
        name = flag_name(arg)
        if not name:
            continue
        following = args[index] if index < len(args) else None
        takes_value = (
            following is not None
            and (not following.startswith("-") or following == "-" or _is_number(following))
            and (name not in _SWITCHES or following.strip().lower() in _TRUE | _FALSE)
        )
        if takes_value and following is not None:
            flags[name] = coerce(following)
            index += 1
        else:
            flags[name] = True
    return flags, positionals


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_payload(stream: IO[bytes] | None = None) -> dict[str, Any]:
    """The JSON object on stdin; ``{}`` when stdin is a terminal, closed or empty."""
    if stream is None:
        if sys.stdin is None or sys.stdin.closed:
            return {}
        try:
            if sys.stdin.isatty():
                return {}
        except (ValueError, OSError):
            return {}
        stream = sys.stdin.buffer
    raw = stream.read(MAX_STDIN_BYTES + 1)
    if len(raw) > MAX_STDIN_BYTES:
        raise BadInput(f"hook input on stdin is larger than {MAX_STDIN_BYTES:,} bytes")
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"hook input on stdin is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"hook input on stdin must be a JSON object, not {type(data).__name__}")
    return data


@dataclass
class HookInput:
    """One hook call's input: the stdin payload and the flags, read through one API."""

    payload: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)

    def flag(self, *names: str) -> Any:
        """The first of ``names`` given as a flag (``True`` for a bare switch)."""
        for name in names:
            if name in self.flags:
                return self.flags[name]
        return None

    def text(self, *names: str) -> str | None:
        """A text value from the flags (first) or the stdin payload; blank means absent."""
        for name in names:
            value = self.flags.get(name)
            if isinstance(value, str) and value.strip():
                return value
        for name in names:
            value = self.payload.get(name)
            if isinstance(value, str) and value.strip():
                return value
        return None

    def switch(self, name: str) -> bool:
        """A boolean flag: ``--strict``, ``--strict true`` or ``--strict=false``."""
        value = self.flags.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return False

    @property
    def event(self) -> str | None:
        return self.text("hook_event_name", "event")

    @property
    def session_id(self) -> str | None:
        return self.text("session_id", "session")

    @property
    def agent_id(self) -> str | None:
        return self.text("agent_id", "agent")

    @property
    def tool_input(self) -> dict[str, Any]:
        value = self.payload.get("tool_input")
        return value if isinstance(value, dict) else {}

    def project_dir(self) -> Path | None:
        """``CLAUDE_PROJECT_DIR``, else the payload's ``cwd`` if that folder exists."""
        env = os.environ.get("CLAUDE_PROJECT_DIR")
        if env:
            return Path(env).expanduser().resolve()
        cwd = self.text("cwd")
        if cwd and Path(cwd).is_dir():
            return Path(cwd).resolve()
        return None


def parse(args: list[str], stream: IO[bytes] | None = None) -> HookInput:
    """Flags from ``args`` and the payload from stdin (or ``stream``)."""
    flags, _ = parse_flags(args)
    if flags.get("no_stdin") is True:
        return HookInput({}, flags)
    return HookInput(read_payload(stream), flags)
