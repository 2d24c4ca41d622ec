"""``secure-mcp doctor``: is everything in place to serve calls safely?

Each check does what the server will do rather than asking permission bits: the audit check
creates the folder and opens the file (as root, ``os.access`` says yes to ``/proc/nope``), the
workspace check predicts the group sharing the server sets up at start. Lines are ``[ok]``,
``[warn]`` (works, with a limit worth knowing) or ``[FAIL]`` (exit 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TextIO

from secure_mcp.config import Config
from secure_mcp.workspace_share import shared_gid, will_share

Status = Literal["ok", "warn", "FAIL"]


def probe_audit_path(path: Path) -> str | None:
    """Create the audit folder and open the log for appending, as the writer will; None when it works.

    A file this probe created is removed again (still empty), so the first real record starts it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
        if not existed and path.stat().st_size == 0:
            path.unlink()
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else path
        return f"cannot create or open {where} ({exc.strerror or type(exc).__name__})"
    return None


def _check_audit(config: Config) -> tuple[Status, str]:
    path = config.audit_path
    problem = probe_audit_path(path)
    if problem is not None:
        return "FAIL", f"audit: {problem}; `serve` would refuse to start"
    return "ok", f"audit: {path} (writable)"


def _check_workspace(root: Path) -> tuple[Status, str] | None:
    """The line for a folder the server creates itself; None when the sandbox's own check applies."""
    if not root.exists():
        return "ok", f"workspace: {root} (created and shared with the sandbox group {shared_gid()} at start)"
    return None


def run_doctor(config: Config, out: TextIO) -> int:
    """Print one line per check; exit 0 when no check fails (warnings included), 1 otherwise."""
    from secure_mcp.sandbox import Sandbox, SandboxSettings

    lines: list[tuple[Status, str]] = [("ok", f"config: {config.source or 'built-in defaults'}")]
    root = config.workspace_root
    created = _check_workspace(root)
    if created is not None:
        lines.append(created)
    lines.append(_check_audit(config))
    settings = SandboxSettings.from_config(
        config.sandbox, python_workspace=config.tools.execute_python.workspace, workspace_gid=shared_gid()
    )
    sandbox = Sandbox(settings, root, instance_id="doctor")
    for check in sandbox.check():
        if check.name == "workspace" and created is not None:
            continue  # said above
        status: Status = "ok" if check.ok else ("warn" if check.warning else "FAIL")
        text = f"{check.name}: {check.message}"
        if check.name == "workspace" and status == "warn" and will_share(root.stat()):
            status, text = "ok", f"workspace: {root} (shared with the sandbox group {shared_gid()} at start)"
        elif status != "ok" and check.fix:
            text += f"\n       fix: {check.fix}"
        lines.append((status, text))
    for status, text in lines:
        out.write(f"[{status}] {text}\n")
    return 1 if any(status == "FAIL" for status, _ in lines) else 0
