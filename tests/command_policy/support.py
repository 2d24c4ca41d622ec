"""The policies the command-policy tests judge against: the shipped defaults, and a strict variant."""

from __future__ import annotations

from secure_mcp.command_policy import CommandPolicy
from secure_mcp.config import RunCommandConfig

_DEFAULTS = RunCommandConfig()

DEFAULT = CommandPolicy(
    allow=frozenset(_DEFAULTS.allow),
    confirm=frozenset(_DEFAULTS.confirm),
    deny=frozenset(_DEFAULTS.deny),
    unknown=_DEFAULTS.unknown,
)
STRICT = CommandPolicy(allow=DEFAULT.allow, confirm=DEFAULT.confirm, deny=DEFAULT.deny, unknown="deny")
