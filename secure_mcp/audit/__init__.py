"""The tamper-evident audit log: hash-chained, HMAC-keyed, durable JSON Lines.

Public API::

    load_key(key_env, key_file, environ) -> bytes | None
    AuditLog(path, *, key, max_bytes, fsync)   .open() .append(record) .append_sync(record) .close()
    verify_log(path, key) -> VerifyReport
    verify_command(path, key, out) -> exit code
    show_command(path, *, follow, tool, decision, since, as_json, out, key) -> exit code
"""

from __future__ import annotations

from secure_mcp.audit.keys import load_key
from secure_mcp.audit.show import parse_since, show_command
from secure_mcp.audit.verify import VerifyReport, verify_command, verify_log
from secure_mcp.audit.writer import AuditLog
from secure_mcp.errors import AuditError

__all__ = [
    "AuditError",
    "AuditLog",
    "VerifyReport",
    "load_key",
    "parse_since",
    "show_command",
    "verify_command",
    "verify_log",
]
