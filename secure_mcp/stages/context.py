"""What a stage may use while judging one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from secure_mcp.toolkit import ToolEnv, ToolSpec

if TYPE_CHECKING:
    from secure_mcp.confirm.channel import ConfirmationChannel
    from secure_mcp.recorder import Recorder


@dataclass(frozen=True, slots=True)
class RunContext:
    """Per-call services: the tool's spec, the shared environment, the way to ask a human, the audit."""

    spec: ToolSpec
    env: ToolEnv
    channel: ConfirmationChannel
    recorder: Recorder
