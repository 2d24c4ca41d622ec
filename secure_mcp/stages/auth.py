"""auth: may this principal call this tool?

Who the principal is was settled by the transport (bearer token on HTTP, the local user on stdio)
before the call reached the pipeline; this stage enforces the per-token tool list, so a token given
only ``fetch_url`` cannot reach ``run_command`` even by naming it directly.
"""

from __future__ import annotations

from typing import ClassVar

from secure_mcp.call import ToolCall
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext


class AuthGuard:
    """Refuses tools outside the caller's grant."""

    name: ClassVar[Stage] = "auth"

    async def __call__(self, call: ToolCall, run: RunContext) -> None:
        allowed = call.caller.allowed_tools
        if allowed is not None and call.tool not in allowed:
            raise Denied("auth", "tool_not_allowed", f"token '{call.caller.principal}' may not call {call.tool}")
