"""Small descriptor-level helpers shared by the write and read paths."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import PurePosixPath

from secure_mcp.errors import Denied
from secure_mcp.workspace_fs.paths import normalise_relative
from secure_mcp.workspace_fs.walk import refuse_non_regular

NEW_FILE_MODE = 0o664
"""Mode of new files, set explicitly (not left to the umask): group-writable so the sandbox user can
edit what write_file created, never executable."""

TEMP_PREFIX = ".secure-mcp-"
"""Prefix of the temporary files overwrite and create use; short, so a 255-byte target name fits."""


def split_target(rel: PurePosixPath) -> tuple[tuple[str, ...], str]:
    """Re-validate ``rel`` (defence in depth: callers may skip ``check_relative_path``) and split it.

    Returns:
        The parent directory components and the final name.

    Raises:
        Denied: any lexical reason, or ``reserved_name`` for the workspace itself.
    """
    if not isinstance(rel, PurePosixPath) or normalise_relative(str(rel)) != rel:
        raise Denied("validate", "not_normalised", "the path was not produced by check_relative_path")
    if rel == PurePosixPath("."):
        raise Denied("validate", "reserved_name", "the path names the workspace directory itself, not a file")
    return rel.parts[:-1], rel.parts[-1]


def create_temp(dir_fd: int, mode: int) -> tuple[str, int]:
    """Create an empty temporary file exclusively in ``dir_fd``; return its name and descriptor."""
    for _ in range(8):
        name = f"{TEMP_PREFIX}{secrets.token_hex(12)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(name, flags, mode, dir_fd=dir_fd)
        except FileExistsError:  # pragma: no cover - 96 random bits colliding
            continue
        os.fchmod(fd, mode)
        return name, fd
    raise OSError(errno.EEXIST, "could not pick a fresh temporary name")  # pragma: no cover


def remove_quietly(name: str, dir_fd: int) -> None:
    """Unlink ``name`` in ``dir_fd`` if it is still there (cleanup after a failed write)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def open_existing_no_follow(name: str, dir_fd: int, flags: int, shown: str) -> tuple[int, os.stat_result]:
    """Open an existing regular file without following links or blocking on a FIFO.

    The name is checked with ``lstat`` *before* the open so a device node is never opened (opening
    some devices has side effects), and the descriptor is checked with ``fstat`` *after* the open,
    against the same inode, so a swap in between is caught.

    Raises:
        Denied: ``symlink``, ``not_regular_file`` or ``path_race``.
        FileNotFoundError: the name does not exist.
    """
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    refuse_non_regular(before, shown)
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            message = f"{shown} is a symbolic link; links are never followed"
            raise Denied("validate", "symlink", message) from exc
        if exc.errno in (errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
            raise Denied("validate", "not_regular_file", f"{shown} is not a regular file") from exc
        raise
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise Denied("validate", "path_race", f"{shown} was replaced while it was being opened")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, after
