"""The one place that decides how a sandbox container is created.

Every container, pooled or cold, gets exactly these arguments; a unit test pins them without
Docker. Anything not set here is Docker's default, which is why the defaults that matter
(seccomp, private PID/IPC namespaces, no devices) are never overridden.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.types import LogConfig, Mount, Ulimit

from secure_mcp.sandbox.settings import SANDBOX_UID, SandboxSettings

RUNNER_PATH = "/opt/secure-mcp/runner.py"
WORKSPACE = "/workspace"
LABEL = "secure-mcp"
LABEL_INSTANCE = "secure-mcp.instance"
LABEL_OWNER = "secure-mcp.owner"
LABEL_MODE = "secure-mcp.workspace"

#: Top-level workspace names hidden in read-only containers: what a read-only run must not read
#: (keys, repository internals, environment files). Folders get an empty read-only tmpfs (no host
#: path involved, so a symlink swapped in cannot redirect the mount to the host); files get
#: /dev/null. A pooled container whose masks no longer match the workspace is discarded when taken
#: (see ``mask_key``). Read-write containers need no masks: they see the workspace through a
#: copy-on-write layer and what they change there is judged by ``secure_mcp.effects``.
MASKED_NAMES = (".git", ".ssh", ".env", ".envrc")

#: The whole environment of the container: nothing from the host's environment reaches it.
ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",  # noqa: S108 - the container's own private tmpfs
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
}


def container_kwargs(
    settings: SandboxSettings,
    *,
    workspace: Path,
    workspace_rw: bool,
    instance_id: str,
    owner: str,
    layer: Path | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create`` for one single-use container.

    The container starts the runner, which waits for one length-prefixed request on stdin; so the
    command is fixed and the code never appears on a command line or in ``docker inspect``.
    A read-write container mounts ``layer`` (the merged overlay of a ``Layer``), never the workspace.

    Raises:
        ValueError: a read-write container without a layer (nothing may write the workspace itself).
    """
    if workspace_rw and layer is None:
        raise ValueError("a read-write container needs a copy-on-write layer")
    extra_groups = [] if settings.workspace_gid in (None, SANDBOX_UID) else [str(settings.workspace_gid)]
    kwargs: dict[str, Any] = {
        "group_add": extra_groups,
        "image": settings.image,
        "command": ["python3", "-I", RUNNER_PATH],
        "user": settings.user,
        "environment": dict(ENVIRONMENT),
        "working_dir": WORKSPACE,
        "hostname": "sandbox",
        "labels": {
            LABEL: "1",
            LABEL_INSTANCE: instance_id,
            LABEL_OWNER: owner,
            LABEL_MODE: "rw" if workspace_rw else "ro",
        },
        "network_mode": "none",
        "read_only": True,
        "privileged": False,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ipc_mode": "private",
        "init": True,
        "mem_limit": settings.memory_bytes,
        "memswap_limit": settings.memory_bytes,
        "nano_cpus": int(settings.cpus * 1_000_000_000),
        "pids_limit": settings.pids,
        "oom_score_adj": 1000,
        "ulimits": [
            Ulimit(name="nofile", soft=settings.nofile, hard=settings.nofile),
            Ulimit(name="fsize", soft=settings.fsize_bytes, hard=settings.fsize_bytes),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={settings.tmpfs_bytes},mode=1777"},  # noqa: S108
        "mounts": [
            Mount(target=WORKSPACE, source=str(layer), type="bind", read_only=False)
            if workspace_rw and layer is not None
            else Mount(target=WORKSPACE, source=str(workspace), type="bind", read_only=True),
            *([] if workspace_rw else _mask_files(workspace)),
        ],
        # Output is read from the attach stream; a log driver would copy every byte to disk.
        "log_config": LogConfig(type=LogConfig.types.NONE),
        # stdin_open also sets StdinOnce: when the server goes away, the runner reads EOF and exits.
        "stdin_open": True,
        # The SDK would otherwise copy proxy settings from the host's ~/.docker/config.json.
        "use_config_proxy": False,
        "tty": False,
        "auto_remove": False,
    }
    if settings.runtime:
        kwargs["runtime"] = settings.runtime
    if not workspace_rw:
        kwargs["tmpfs"].update(_mask_dirs(workspace))
    return kwargs


def mask_key(workspace: Path) -> tuple[tuple[str, str], ...]:
    """Which masked names exist now and as what: a pooled read-only container must match it."""
    key = []
    for name in MASKED_NAMES:
        try:
            mode = os.lstat(workspace / name).st_mode
        except OSError:
            continue
        key.append((name, "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"))
    return tuple(key)


def _existing(workspace: Path, check: Callable[[int], bool]) -> list[str]:
    found = []
    for name in MASKED_NAMES:
        try:
            mode = os.lstat(workspace / name).st_mode
        except OSError:
            continue
        if check(mode):
            found.append(name)
    return found


def _mask_dirs(workspace: Path) -> dict[str, str]:
    """An empty, read-only tmpfs over each existing masked folder (no host path is involved)."""
    return {f"{WORKSPACE}/{name}": "ro,nosuid,nodev,noexec,size=4k" for name in _existing(workspace, stat.S_ISDIR)}


def _mask_files(workspace: Path) -> list[Mount]:
    """/dev/null, read-only, over a masked name that is a file (a git worktree's ``.git`` file)."""
    return [
        Mount(target=f"{WORKSPACE}/{name}", source=os.devnull, type="bind", read_only=True)
        for name in _existing(workspace, stat.S_ISREG)
    ]
