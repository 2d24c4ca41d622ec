"""create / overwrite / append inside the workspace, never through a link.

* ``create`` writes a temporary file, fsyncs it and hard-links it to the target name; ``link``
  fails if the name exists (any kind, including a dangling link), so creation is exclusive *and*
  atomic: a reader sees nothing or the whole file. Filesystems without hard links fall back to
  ``O_CREAT|O_EXCL|O_NOFOLLOW`` (still exclusive, not atomic). An existing file is an ordinary
  ``ToolFailure("file_exists")``: the agent should choose ``overwrite``, no guard was crossed.
* ``overwrite`` writes a temporary file in the same directory, fsyncs it and renames it over the
  target, then fsyncs the directory. A missing target is created (``created=True``); the
  confirmation diff shows it as a new file. The permission bits of the replaced file are kept
  (less setuid/setgid/sticky), so overwriting a script does not silently break it.
* ``append`` opens the existing file with ``O_APPEND|O_NOFOLLOW|O_NONBLOCK`` after an ``lstat`` and
  checks the descriptor is the same regular file, with a single link: appending to a hard link
  would change the inode wherever else it is linked. A missing target is created. ``sha256`` is of
  the appended bytes only.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from secure_mcp.errors import Denied, SecureMCPError, ToolFailure
from secure_mcp.workspace_fs._files import (
    NEW_FILE_MODE,
    create_temp,
    open_existing_no_follow,
    remove_quietly,
    split_target,
    write_all,
)
from secure_mcp.workspace_fs.walk import io_failure, lstat_at, open_directory, refuse_non_regular

WriteMode = Literal["create", "overwrite", "append"]
_KEPT_MODE_BITS = 0o777


@dataclass(frozen=True)
class WriteOutcome:
    """What one write did; the fields of ``write_file``'s structured result.

    Attributes:
        path: the normalised relative path written.
        bytes_written: bytes written by this call.
        created: whether the file did not exist before.
        sha256: hex SHA-256 of the bytes written by this call (for ``append``: the appended bytes).
    """

    path: str
    bytes_written: int
    created: bool
    sha256: str


def _fsync_if(durable: bool, fd: int) -> None:
    if durable:
        os.fsync(fd)


def _file_exists(dir_fd: int, name: str, shown: str) -> SecureMCPError:
    st = lstat_at(name, dir_fd)
    if st is not None:
        refuse_non_regular(st, shown)  # a link or a device there deserves its own reason
    return ToolFailure("file_exists", f"{shown} already exists; use mode 'overwrite' or 'append'")


def _create(dir_fd: int, name: str, data: bytes, shown: str, durable: bool) -> bool:
    temp, fd = create_temp(dir_fd, NEW_FILE_MODE)
    try:
        try:
            write_all(fd, data)
            _fsync_if(durable, fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except FileExistsError:
            raise _file_exists(dir_fd, name, shown) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            _create_in_place(dir_fd, name, data, shown, durable)
    finally:
        remove_quietly(temp, dir_fd)
    _fsync_if(durable, dir_fd)
    return True


def _create_in_place(dir_fd: int, name: str, data: bytes, shown: str, durable: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, NEW_FILE_MODE, dir_fd=dir_fd)
        os.fchmod(fd, NEW_FILE_MODE)
    except FileExistsError:
        raise _file_exists(dir_fd, name, shown) from None
    try:
        write_all(fd, data)
        _fsync_if(durable, fd)
    finally:
        os.close(fd)


def _overwrite(dir_fd: int, name: str, data: bytes, shown: str, durable: bool) -> bool:
    before = lstat_at(name, dir_fd)
    if before is not None:
        refuse_non_regular(before, shown)
    temp, fd = create_temp(dir_fd, NEW_FILE_MODE)
    renamed = False
    try:
        try:
            if before is not None:
                os.fchmod(fd, before.st_mode & _KEPT_MODE_BITS)
            write_all(fd, data)
            _fsync_if(durable, fd)
        finally:
            os.close(fd)
        # Checked again right before the rename to name the cause if the target changed kind;
        # the rename itself never follows a link at the destination, it replaces the link.
        target = lstat_at(name, dir_fd)
        if target is not None:
            refuse_non_regular(target, shown)
        try:
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except IsADirectoryError:
            raise Denied("validate", "not_regular_file", f"{shown} became a directory") from None
        renamed = True
    finally:
        if not renamed:
            remove_quietly(temp, dir_fd)
    _fsync_if(durable, dir_fd)
    return target is None


def _append(dir_fd: int, name: str, data: bytes, shown: str, durable: bool) -> bool:
    created = True
    try:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, NEW_FILE_MODE, dir_fd=dir_fd)
        os.fchmod(fd, NEW_FILE_MODE)
    except FileExistsError:
        created = False
        try:
            fd, _ = open_existing_no_follow(name, dir_fd, os.O_WRONLY | os.O_APPEND, shown)
        except FileNotFoundError:
            raise Denied("validate", "path_race", f"{shown} disappeared while it was being opened") from None
    if not created and os.fstat(fd).st_nlink != 1:
        os.close(fd)
        message = f"{shown} has other hard links; appending would change them too"
        raise Denied("validate", "hard_link", message)
    try:
        write_all(fd, data)
        _fsync_if(durable, fd)
    finally:
        os.close(fd)
    if created:
        _fsync_if(durable, dir_fd)
    return created


_WRITERS = {"create": _create, "overwrite": _overwrite, "append": _append}


def write_file(root: Path, rel: PurePosixPath, data: bytes, mode: WriteMode, *, durable: bool = True) -> WriteOutcome:
    """Write ``data`` to ``root/rel`` without following any link on the way.

    Args:
        root: the workspace root (``[workspace] root``); it must exist.
        rel: a path returned by ``check_relative_path``.
        data: the bytes returned by ``check_content``.
        mode: ``create`` (exclusive), ``overwrite`` (atomic replace) or ``append``.
        durable: fsync the file and its directory (default). Only tests and benchmarks turn it off.

    Returns:
        The outcome, for the tool's structured result.

    Raises:
        Denied: stage ``validate``: ``symlink``, ``not_a_directory``, ``not_regular_file``,
            ``hard_link``, ``path_race`` or a lexical reason.
        ToolFailure: ``file_exists`` (create), ``workspace_unavailable`` or ``io_error``.
    """
    writer = _WRITERS.get(mode)
    if writer is None:
        raise Denied("validate", "invalid_mode", "mode must be 'create', 'overwrite' or 'append'")
    parents, name = split_target(rel)
    shown = rel.as_posix()
    try:
        with open_directory(root, parents, create=True) as dir_fd:
            if dir_fd is None:  # pragma: no cover - create=True never yields None
                raise Denied("validate", "path_race", f"the parent directory of {shown} vanished")
            created = writer(dir_fd, name, data, shown, durable)
    except OSError as exc:
        raise io_failure(f"write {shown}", exc) from exc
    return WriteOutcome(shown, len(data), created, hashlib.sha256(data).hexdigest())
