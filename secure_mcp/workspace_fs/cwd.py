"""Validation of ``run_command``'s ``cwd`` against the real workspace."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from secure_mcp.errors import Denied
from secure_mcp.workspace_fs.paths import normalise_relative
from secure_mcp.workspace_fs.walk import io_failure, open_directory

CONTAINER_WORKSPACE = PurePosixPath("/workspace")
"""Where the sandbox mounts the workspace."""


def resolve_cwd(root: Path, cwd: str) -> str:
    """Check ``cwd`` and return the matching directory inside the container.

    The lexical rules are those of ``check_relative_path`` without ``deny_globs`` (running ``ls`` in
    ``.git`` is the command policy's business), and ``"."`` is allowed. The directory must exist and
    be reached from the workspace root without following a link, so a link planted in the workspace
    cannot make the command start somewhere the host did not check.

    Args:
        root: the workspace root on the host.
        cwd: the ``run_command`` argument, relative to the workspace.

    Returns:
        ``"/workspace"`` or ``"/workspace/<rel>"``.

    Raises:
        Denied: stage ``validate``: a lexical reason, ``not_found``, ``symlink`` or ``not_a_directory``.
        ToolFailure: ``workspace_unavailable`` or ``io_error``.
    """
    rel = normalise_relative(cwd)
    parts = () if rel == PurePosixPath(".") else rel.parts
    try:
        with open_directory(root, parts, create=False) as dir_fd:
            if dir_fd is None:
                message = f"the working directory {rel} does not exist in the workspace"
                raise Denied("validate", "not_found", message)
    except OSError as exc:
        raise io_failure(f"open {rel}", exc) from exc
    return str(CONTAINER_WORKSPACE.joinpath(*parts))
