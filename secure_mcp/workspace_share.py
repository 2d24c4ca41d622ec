"""Sharing the workspace between the server and the sandbox user (uid 10001) without widening either.

The sandbox never runs as the server's own user, so an escape lands on an account that owns
nothing. For ``run_command`` to edit what ``write_file`` created (and the other way round) both
sides share one group: the workspace's. As root, the server hands the workspace folder's group to
the sandbox's gid; otherwise the folder keeps the server user's group and the sandbox user gets it
as a supplementary group. The folder is made group-writable and set-group-id so everything below
inherits the group; write_file creates 0664 files and 2775 folders, the sandbox runs with umask 002.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from secure_mcp.sandbox.settings import SANDBOX_UID

logger = logging.getLogger(__name__)
SHARED_DIR_BITS = stat.S_ISGID | stat.S_IRWXG


def shared_gid() -> int:
    """The group the server gives the workspace: the sandbox's own gid as root, else the server's."""
    return SANDBOX_UID if os.geteuid() == 0 else os.getegid()


def will_share(info: os.stat_result) -> bool:
    """Whether ``prepare_workspace`` can hand this existing folder to the sandbox group at start."""
    return os.geteuid() == 0 or info.st_uid == os.geteuid()


def prepare_workspace(root: Path) -> int:
    """Create the workspace if needed and share it with the sandbox's group; returns that group id.

    Only the root folder is changed (never recursively): files you placed there yourself keep their
    modes, so the sandbox can read them but edits only what is group-writable.
    """
    root.mkdir(parents=True, exist_ok=True)
    gid = shared_gid()
    try:
        info = root.stat()
        if os.geteuid() == 0 and info.st_gid != gid:
            os.chown(root, -1, gid)
        mode = stat.S_IMODE(info.st_mode)
        if mode & SHARED_DIR_BITS != SHARED_DIR_BITS:
            os.chmod(root, mode | SHARED_DIR_BITS)
    except OSError as exc:
        logger.warning(
            "cannot share the workspace %s with the sandbox group (%s); run_command may not write", root, exc
        )
        return root.stat().st_gid
    return gid
