"""Descriptor walk from the workspace root that never follows a symbolic link.

Every component is opened relative to the descriptor of its parent with ``O_NOFOLLOW`` and
``O_DIRECTORY``. A link swapped in between a check and the write is therefore never followed: the
kernel refuses it at the moment of the open, not at the moment of some earlier check.

The workspace root itself is opened by path and *may* be a symlink: that is the administrator's
choice in the config, not the agent's.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from secure_mcp.errors import Denied, ToolFailure

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_DIR_MODE = 0o2775
"""Group-writable and set-group-id, so files below share the workspace's group with the sandbox user."""


def io_failure(action: str, exc: OSError) -> ToolFailure:
    """An ordinary I/O failure, named by errno only so no host path leaks into the message."""
    name = errno.errorcode.get(exc.errno or 0, "EIO")
    return ToolFailure("io_error", f"could not {action}: {name} ({os.strerror(exc.errno or errno.EIO)})")


def lstat_at(name: str, dir_fd: int) -> os.stat_result | None:
    """``fstatat(..., AT_SYMLINK_NOFOLLOW)``; ``None`` when the name does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def refuse_non_regular(st: os.stat_result, shown: str) -> None:
    """Raise ``Denied`` unless ``st`` describes a regular file.

    Raises:
        Denied: ``symlink`` for a link, ``not_regular_file`` for a directory, device, FIFO or socket.
    """
    if stat.S_ISLNK(st.st_mode):
        raise Denied("validate", "symlink", f"{shown} is a symbolic link; links are never followed")
    if not stat.S_ISREG(st.st_mode):
        raise Denied("validate", "not_regular_file", f"{shown} is not a regular file (a directory, device, FIFO...)")


def open_root(root: Path) -> int:
    """Open the workspace root directory; the caller closes the descriptor.

    The root is not created here: the server creates it at startup, and a root that disappeared
    later is an error worth seeing rather than silently recreating.

    Raises:
        ToolFailure: ``workspace_unavailable`` when the root is missing or not a directory.
    """
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ToolFailure(
            "workspace_unavailable", "the workspace root directory is missing or unreadable; ask the operator"
        ) from exc


def _why_not_directory(name: str, parent: int, shown: str) -> Denied:
    # Linux reports ENOTDIR (not ELOOP) for a symlink opened with O_DIRECTORY|O_NOFOLLOW, so look
    # again without following to name the cause. Either way the answer is a refusal.
    try:
        st = lstat_at(name, parent)
    except OSError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        return Denied("validate", "symlink", f"{shown} is a symbolic link; links are never followed")
    return Denied("validate", "not_a_directory", f"{shown} exists but is not a directory")


def _open_child_dir(name: str, parent: int, create: bool, shown: str) -> int | None:
    made = False
    for _ in range(3):  # open, mkdir, open again; one more round if a concurrent remover interferes
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            if made:
                os.fchmod(fd, NEW_DIR_MODE)  # the umask would drop group write; set it on what was opened
            return fd
        except FileNotFoundError:
            if not create:
                return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _why_not_directory(name, parent, shown) from exc
            raise io_failure(f"open directory {shown}", exc) from exc
        try:
            os.mkdir(name, NEW_DIR_MODE, dir_fd=parent)
            made = True
        except FileExistsError:
            pass  # a concurrent creator won; open whatever is there, still without following
        except OSError as exc:
            raise io_failure(f"create directory {shown}", exc) from exc
    raise Denied("validate", "path_race", f"{shown} kept changing while it was being opened")


@contextmanager
def open_directory(root: Path, parts: Sequence[str], *, create: bool) -> Iterator[int | None]:
    """Yield a descriptor of ``root/parts...`` reached without following links, or ``None``.

    Args:
        root: the workspace root.
        parts: directory components below the root (already lexically validated).
        create: create missing directories (mode 0o755 less umask) instead of yielding ``None``.

    Raises:
        Denied: ``symlink`` or ``not_a_directory`` for a component that is not a real directory.
        ToolFailure: ``workspace_unavailable`` or ``io_error``.
    """
    current = open_root(root)
    try:
        for depth, name in enumerate(parts):
            shown = "/".join(parts[: depth + 1])
            child = _open_child_dir(name, current, create, shown)
            os.close(current)
            current = -1
            if child is None:
                yield None
                return
            current = child
        yield current
    finally:
        if current >= 0:
            os.close(current)
