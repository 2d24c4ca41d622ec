"""Out-of-band approvals: pending decisions, the approval console and the CLI's client (issue 16)."""

from secure_mcp.approvals.desk import ApprovalDesk, binding_digest, policy_version
from secure_mcp.approvals.store import Decision, DecisionStore, MemoryDecisionStore, PendingDecision

__all__ = [
    "ApprovalDesk",
    "Decision",
    "DecisionStore",
    "MemoryDecisionStore",
    "PendingDecision",
    "binding_digest",
    "policy_version",
]
