"""The sandbox's settings: plain values, so every module can be built and tested without a config file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secure_mcp.config import SandboxConfig, parse_size

#: The image's dedicated user: no login shell, no home, owns nothing in the image.
SANDBOX_UID = 10001


@dataclass(frozen=True)
class SandboxSettings:
    """Everything the sandbox needs, already parsed into numbers.

    ``user`` is not a config key yet: it defaults to the image's dedicated uid, never the
    server's own, so an escape lands on an account that owns nothing on the host.
    ``pool_modes`` says which workspace mount modes get warm containers (``False`` = read-only).
    ``layer_root`` is where read-write layers are mounted (``<state_dir>/layers``; a temporary
    folder when None) and ``layer_bytes`` the room each has (``[tools.run_command.effects] max_bytes``).
    ``workspace_gid`` is the group that owns the workspace (see ``secure_mcp.workspace_share``); the
    sandbox user gets it as a supplementary group so it can edit the files write_file created.
    """

    image: str = "secure-mcp-sandbox:latest"
    memory_bytes: int = 256 * 1024**2
    cpus: float = 1.0
    pids: int = 64
    timeout_s: int = 30
    max_output_bytes: int = 1024 * 1024
    max_concurrent: int = 4
    warm_pool: int = 2
    runtime: str | None = None
    tmpfs_bytes: int = 64 * 1024**2
    nofile: int = 256
    fsize_bytes: int = 64 * 1024**2
    python_workspace_rw: bool = False
    user: str = f"{SANDBOX_UID}:{SANDBOX_UID}"
    workspace_gid: int | None = None
    pool_modes: tuple[bool, ...] = (False, True)
    layer_root: Path | None = None
    layer_bytes: int = 64 * 1024**2
    pool_spawners: int = 2
    warm_pool_rw: int | None = None

    def pool_size(self, workspace_rw: bool) -> int:
        """Warm containers kept for this mode: ``warm_pool_rw`` for read-write when set."""
        return self.warm_pool_rw if workspace_rw and self.warm_pool_rw is not None else self.warm_pool

    @classmethod
    def from_config(
        cls,
        sandbox: SandboxConfig,
        *,
        python_workspace: str = "ro",
        workspace_gid: int | None = None,
        layer_root: Path | None = None,
        layer_bytes: int = 64 * 1024**2,
    ) -> SandboxSettings:
        """Build from ``[sandbox]`` and ``[tools.execute_python] workspace``."""
        return cls(
            image=sandbox.image,
            memory_bytes=parse_size(sandbox.memory),
            cpus=sandbox.cpus,
            pids=sandbox.pids,
            timeout_s=sandbox.timeout_s,
            max_output_bytes=sandbox.max_output_bytes,
            max_concurrent=sandbox.max_concurrent,
            warm_pool=sandbox.warm_pool,
            runtime=sandbox.runtime,
            tmpfs_bytes=parse_size(sandbox.tmpfs_size),
            nofile=sandbox.nofile,
            fsize_bytes=parse_size(sandbox.fsize),
            python_workspace_rw=python_workspace == "rw",
            workspace_gid=workspace_gid,
            layer_root=layer_root,
            layer_bytes=layer_bytes,
            pool_spawners=sandbox.pool_spawners,
            warm_pool_rw=sandbox.warm_pool_rw,
        )
