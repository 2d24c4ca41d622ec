"""Checks for ``secure-mcp doctor``: does the sandbox have what it needs, and if not, what to do."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    checks.append(_image(client, settings))
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


def image_status(settings: SandboxSettings) -> DoctorCheck:
    """Is the sandbox image present and built from this version's runner? Blocks; never raises.

    ``name`` is "docker" when the engine does not answer, else "image". Used at ``serve`` start
    (a warning) and by ``sandbox build --if-missing``.
    """
    try:
        client = Engine(settings.image).client()
    except SandboxError as exc:
        return DoctorCheck("docker", False, exc.message, "start Docker or set DOCKER_HOST")
    except Exception as exc:  # a guard never lets a surprise through as "fine"
        return DoctorCheck("docker", False, f"the Docker engine check failed: {type(exc).__name__}")
    return _image(client, settings)


def _image(client: Any, settings: SandboxSettings) -> DoctorCheck:
    try:
        labels = client.api.inspect_image(settings.image)["Config"].get("Labels") or {}
    except Exception as exc:
        return DoctorCheck("image", False, translate(exc, settings.image).message, "secure-mcp sandbox build")
    if labels.get(LABEL_RUNNER) != runner_digest():
        return DoctorCheck(
            "image",
            False,
            f"{settings.image} was built from another version of the runner",
            "secure-mcp sandbox build",
        )
    return DoctorCheck("image", True, f"{settings.image} is present and current")


def can_write(info: os.stat_result, uid: int, gids: Collection[int]) -> bool:
    """Whether a process with ``uid`` and groups ``gids`` may create files in a folder with ``info``.

    The kernel's order, ACLs aside: the owner bits decide for the owner, else the group bits for a
    member of the folder's group, else the other bits; the first class that matches decides.
    """
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid == uid:
        wanted = stat.S_IWUSR | stat.S_IXUSR
    elif info.st_gid in gids:
        wanted = stat.S_IWGRP | stat.S_IXGRP
    else:
        wanted = stat.S_IWOTH | stat.S_IXOTH
    return mode & wanted == wanted


def _workspace(settings: SandboxSettings, workspace: Path) -> DoctorCheck:
    if not workspace.is_dir():
        return DoctorCheck("workspace", False, f"{workspace} is not a folder", f"mkdir -p {workspace}")
    uid, _, primary = settings.user.partition(":")
    gids = {int(primary or uid)} | ({settings.workspace_gid} if settings.workspace_gid is not None else set())
    if can_write(workspace.stat(), int(uid), gids):
        groups = ",".join(str(g) for g in sorted(gids))
        return DoctorCheck("workspace", True, f"{workspace} is writable by the sandbox user {uid} (groups {groups})")
    return DoctorCheck(
        "workspace",
        False,
        f"{workspace} is not writable by the sandbox user {uid}: run_command can read but not write",
        f"chown {uid} {workspace} (or grant it with setfacl -m u:{uid}:rwx)",
        warning=True,
    )
