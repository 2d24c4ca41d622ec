"""Errors of secure-mcp.

The hierarchy::

    SecureMCPError
    ├── ConfigError     the configuration is invalid; raised at startup only, the server does not start
    ├── Denied          a stage refused the call; carries the stage, a stable reason code and a safe message
    ├── SandboxError    the execution infrastructure failed (engine down, image missing, spawn error)
    ├── AuditError      a record could not be made durable (disk full, lock, cut-off or forged log)
    └── ToolFailure     the tool ran its course and failed for an ordinary reason (HTTP error, file exists)

Only the pipeline's runner turns these into what a client sees: a ``Denied`` becomes
``blocked by <stage>: <message>``; anything else becomes a refusal by the stage that was running,
with a generic message and the call id. Nothing else may reach the client.

``Stage`` is the one vocabulary of stage names: the refusal text, the per-stage timer in the audit
record and ``Pipeline.order`` all use it (execution is ``sandbox``, the output scan ``sanitize``).
"""

from __future__ import annotations

from typing import Literal

Stage = Literal["auth", "limits", "sanitize", "validate", "confirm", "sandbox", "effects", "redact", "audit"]
STAGES: tuple[Stage, ...] = (
    "auth", "limits", "sanitize", "validate", "confirm", "sandbox", "effects", "redact", "audit"
)


class SecureMCPError(Exception):
    """Base class of every error secure-mcp raises on purpose."""


class ConfigError(SecureMCPError):
    """The configuration is invalid. Raised at startup; names the key path and what is allowed.

    Fix the named key in the config file and start again.
    """


class Denied(SecureMCPError):
    """A stage refused the call.

    Args:
        stage: the pipeline stage that refused (one of ``STAGES``).
        reason: a stable, machine-readable code (``path_escape``, ``program_denied`` ...); tests and
            audit queries use it, so renaming one is a breaking change.
        message: text safe to show to the client and the model; it is redacted again before it leaves.
    """

    def __init__(self, stage: Stage, reason: str, message: str) -> None:
        super().__init__(f"blocked by {stage}: {message}")
        self.stage: Stage = stage
        self.reason = reason
        self.message = message


class SandboxError(SecureMCPError):
    """The sandbox could not run the call (engine unreachable, image missing, engine error).

    ``message`` says what failed and how to fix it; it never contains the code or command that was
    to run. The pipeline turns it into ``blocked by sandbox: <message>``; nothing runs on the host.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class AuditError(SecureMCPError):
    """A record could not be made durable, so the action it describes must not happen.

    Raised for disk full, permission denied, a vanished or cut-off log file, a lock that cannot be
    taken, or a log whose last record does not verify with this key. The recorder logs ``reason``
    and ``message`` and turns it into ``blocked by audit: ...``. ``message`` never contains record
    content.

    Args:
        reason: a stable snake_case code (``write_failed``, ``log_truncated`` ...).
        message: what failed and what to do, safe to show.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ToolFailure(SecureMCPError):
    """The tool's own work failed for an ordinary reason (connection refused, HTTP error, file exists).

    Not a refusal: no guard said no. The client gets an error result with ``message``, redacted.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
