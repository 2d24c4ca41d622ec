"""Checks for ``secure-mcp doctor``: does the sandbox have what it needs, and if not, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.engine import Engine, translate
from secure_mcp.sandbox.image import LABEL_RUNNER, runner_digest
from secure_mcp.sandbox.settings import SandboxSettings


@dataclass(frozen=True)
class DoctorCheck:
    """One check's outcome. ``fix`` says what to do when it is not ``ok``; warnings do not fail."""

    name: str
    ok: bool
    message: str
    fix: str | None = None
    warning: bool = False


def run_checks(settings: SandboxSettings, workspace: Path, engine: Engine) -> list[DoctorCheck]:
    """Engine, image (present and built from this version's runner), runtime, workspace. Blocks."""
    checks = [_workspace(settings, workspace)]
    try:
        client = engine.client()
        version = client.version().get("Version", "?")
    except SandboxError as exc:
        return [DoctorCheck("docker", False, exc.message, "start Docker or set DOCKER_HOST"), *checks]
    checks.insert(0, DoctorCheck("docker", True, f"engine {version} answers"))
    try:
        labels = client.api.inspect_image(settings.image)["Config"].get("Labels") or {}
    except Exception as exc:
        error = translate(exc, settings.image)
        checks.append(DoctorCheck("image", False, error.message, "secure-mcp sandbox build"))
    else:
        if labels.get(LABEL_RUNNER) == runner_digest():
            checks.append(DoctorCheck("image", True, f"{settings.image} is present and current"))
        else:
            checks.append(
                DoctorCheck(
                    "image",
                    False,
                    f"{settings.image} was built from another version of the runner",
                    "secure-mcp sandbox build",
                )
            )
    if settings.runtime:
        runtimes = client.info().get("Runtimes") or {}
        present = settings.runtime in runtimes
        checks.append(
            DoctorCheck(
                "runtime",
                present,
                f"runtime {settings.runtime} is {'registered' if present else 'not registered'} in Docker",
                None if present else "install it and register it in /etc/docker/daemon.json",
            )
        )
    return checks


def _workspace(settings: SandboxSettings, workspace: Path) -> DoctorCheck:
    if not workspace.is_dir():
        return DoctorCheck("workspace", False, f"{workspace} is not a folder", f"mkdir -p {workspace}")
    uid = int(settings.user.split(":")[0])
    info = workspace.stat()
    writable = info.st_uid == uid or bool(info.st_mode & 0o002)
    if writable:
        return DoctorCheck("workspace", True, f"{workspace} is writable by the sandbox user {uid}")
    return DoctorCheck(
        "workspace",
        True,
        f"{workspace} is not writable by the sandbox user {uid}: run_command can read but not write",
        f"chown {uid} {workspace} (or grant it with setfacl -m u:{uid}:rwx)",
        warning=True,
    )
