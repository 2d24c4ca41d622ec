"""Asking a human through MCP elicitation, in both protocol eras."""

from secure_mcp.confirm.approval import Answer, Approval
from secure_mcp.confirm.channel import ConfirmationChannel, InputRequired, channel_for

__all__ = ["Answer", "Approval", "ConfirmationChannel", "InputRequired", "channel_for"]
