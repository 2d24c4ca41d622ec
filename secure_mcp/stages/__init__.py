"""The guard stages, one module each. ``secure_mcp.pipeline.build_pipeline`` decides their order."""

from __future__ import annotations

from typing import ClassVar, Protocol

from secure_mcp.call import ToolCall, ValidatedCall
from secure_mcp.errors import Stage
from secure_mcp.stages.context import RunContext


class Guard(Protocol):
    """A stage before validate: it passes the call on (possibly narrowed) or raises ``Denied``.

    It sees only the raw arguments: nothing has been parsed or planned yet.
    """

    name: ClassVar[Stage]

    async def __call__(self, call: ToolCall, run: RunContext) -> None: ...


class PlannedGuard(Protocol):
    """A stage after validate (confirm): it judges the tool's plan, passes the call on or raises ``Denied``."""

    name: ClassVar[Stage]

    async def __call__(self, call: ValidatedCall, run: RunContext) -> None: ...


__all__ = ["Guard", "PlannedGuard", "RunContext"]
