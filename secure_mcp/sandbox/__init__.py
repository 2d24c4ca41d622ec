"""The Docker sandbox: hardened, single-use containers for ``execute_python`` and ``run_command``.

This is the product's main security boundary. Everything that reaches it is treated as hostile:
no network, read-only root, no capabilities, an unprivileged user, hard limits, one container per
call. See ``docs/sandbox.md``.
"""

from __future__ import annotations

from secure_mcp.sandbox.doctor import DoctorCheck
from secure_mcp.sandbox.image import build_image
from secure_mcp.sandbox.models import BlockedExec, ProgressCallback, SandboxRequest, SandboxResult
from secure_mcp.sandbox.service import Sandbox
from secure_mcp.sandbox.settings import SandboxSettings

__all__ = [
    "BlockedExec",
    "DoctorCheck",
    "ProgressCallback",
    "Sandbox",
    "SandboxRequest",
    "SandboxResult",
    "SandboxSettings",
    "build_image",
]
