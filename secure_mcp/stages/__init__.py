"""The guard stages, one module each. ``secure_mcp.pipeline.build_pipeline`` decides their order."""

from __future__ import annotations

from typing import ClassVar, Protocol

from secure_mcp.call import ToolCall
from secure_mcp.errors import Stage
from secure_mcp.stages.context import RunContext


class Guard(Protocol):
    """A stage before execution: it passes the call on (possibly narrowed) or raises ``Denied``."""

    name: ClassVar[Stage]

    async def __call__(self, call: ToolCall, run: RunContext) -> None: ...


__all__ = ["Guard", "RunContext"]
