"""The workspace filesystem layer under ``write_file`` (and ``run_command``'s ``cwd``).

Two layers, each sufficient against a different attack and both always applied:

1. lexical (``paths``, ``content``): the agent's strings are judged before any system call;
2. structural (``walk``, ``write``, ``read``, ``cwd``): the filesystem is reached from an open
   descriptor of the workspace root, one no-follow open per component, so no symbolic link is ever
   followed, not even one swapped in between a check and the write.
"""

from __future__ import annotations

from secure_mcp.workspace_fs.content import check_content, has_redaction_marker
from secure_mcp.workspace_fs.cwd import CONTAINER_WORKSPACE, resolve_cwd
from secure_mcp.workspace_fs.diff import append_preview, unified_diff
from secure_mcp.workspace_fs.globs import matching_glob
from secure_mcp.workspace_fs.paths import NAME_MAX, PATH_MAX, check_relative_path, normalise_relative
from secure_mcp.workspace_fs.read import ExistingFile, read_existing, snapshot_existing
from secure_mcp.workspace_fs.write import WriteMode, WriteOutcome, write_file

__all__ = [
    "CONTAINER_WORKSPACE",
    "NAME_MAX",
    "PATH_MAX",
    "ExistingFile",
    "WriteMode",
    "WriteOutcome",
    "append_preview",
    "check_content",
    "check_relative_path",
    "has_redaction_marker",
    "matching_glob",
    "normalise_relative",
    "read_existing",
    "resolve_cwd",
    "snapshot_existing",
    "unified_diff",
    "write_file",
]
