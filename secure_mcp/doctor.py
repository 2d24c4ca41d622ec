"""``secure-mcp doctor``: is everything in place to serve calls safely?"""

from __future__ import annotations

import os
from typing import TextIO

from secure_mcp.config import Config


def _check_audit(config: Config) -> tuple[bool, str]:
    path = config.audit_path
    folder = path.parent
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder)
    if not os.access(probe, os.W_OK):
        return False, f"audit: {folder} is not writable; calls would be refused by audit"
    return True, f"audit: {path} (writable)"


def run_doctor(config: Config, out: TextIO) -> int:
    """Print one line per check; exit 0 when every check passes, 1 otherwise."""
    from secure_mcp.sandbox import Sandbox, SandboxSettings

    lines: list[tuple[bool, str]] = [(True, f"config: {config.source or 'built-in defaults'}")]
    root = config.workspace_root
    lines.append((True, f"workspace: {root}" + ("" if root.exists() else " (will be created)")))
    lines.append(_check_audit(config))
    settings = SandboxSettings.from_config(config.sandbox, python_workspace=config.tools.execute_python.workspace)
    sandbox = Sandbox(settings, root, instance_id="doctor")
    for check in sandbox.check():
        if check.name == "workspace" and not root.exists():
            continue  # the server creates and shares it at start; said above
        text = f"{check.name}: {check.message}"
        if not check.ok and check.fix:
            text += f"\n       fix: {check.fix}"
        lines.append((check.ok or check.warning, text))
    for ok, text in lines:
        out.write(f"[{'ok' if ok else 'FAIL'}] {text}\n")
    return 0 if all(ok for ok, _ in lines) else 1
