"""The audit log's own error."""

from __future__ import annotations

from secure_mcp.errors import SecureMCPError


class AuditError(SecureMCPError):
    """A record could not be made durable, so the action it describes must not happen.

    Raised for disk full, permission denied, a vanished or cut-off log file, a lock that cannot be
    taken, or a log whose last record does not verify with this key. The pipeline turns it into
    ``blocked by audit: <message>``. ``message`` never contains record content.

    Args:
        reason: a stable snake_case code (``write_failed``, ``log_truncated`` ...).
        message: what failed and what to do, safe to show.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
