"""Applying an approved change set to the real workspace, with write_file's care.

* Every host path is reached from the workspace root one no-follow ``openat`` at a time
  (``workspace_fs.walk``), so a link planted on the host, or by an earlier change, is never followed.
* A file is copied from the layer into a temporary file next to its target; once every copy is
  written the filesystem is flushed once (``syncfs``), then each is renamed over its target (or
  hard-linked, for a new name, so an existing one is never clobbered), and flushed again: a reader,
  or a crash, sees the old or the new file, never half of one, at two flushes per change set instead
  of two per file. Only bytes whose SHA-256 is the one judged are applied.
* Modes are applied without set-uid, set-gid and sticky bits, whatever the layer says.
* Conflicts: a host path whose ``ctime`` is at or after the moment the request reached the container changed
  while the command could see it (by the user, an editor, another call): it is not touched, nor
  anything below it, and it is reported. Everything else of the change set is applied.
* A hard link in the layer is applied as an independent copy; fifos and sockets are never applied.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from secure_mcp.effects.changeset import Change, ChangeSet
from secure_mcp.effects.judge import Verdict
from secure_mcp.errors import SecureMCPError
from secure_mcp.workspace_fs._files import create_temp, remove_quietly
from secure_mcp.workspace_fs.walk import DIR_FLAGS, lstat_at, open_directory

CHUNK = 1 << 20
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_ORDER = {"deleted": 0, "dir": 1, "mode": 2, "created": 3, "modified": 3, "symlink": 4, "special": 5}


@dataclass
class ApplyOutcome:
    """What reached the workspace, and what did not because the host changed it meanwhile."""

    applied: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # "path: why"


class _Conflict(Exception):
    pass


def _under(path: PurePosixPath, roots: set[PurePosixPath]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _changed_since(st: os.stat_result, since_ns: int) -> bool:
    return st.st_ctime_ns >= since_ns


def _tree_changed_since(name: str, dir_fd: int, since_ns: int) -> bool:
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        if _changed_since(os.fstat(fd), since_ns):
            return True
        for _root, dirs, files, root_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            for entry in (*dirs, *files):
                st = lstat_at(entry, root_fd)
                if st is not None and _changed_since(st, since_ns):
                    return True
    finally:
        os.close(fd)
    return False


def _host_kind(st: os.stat_result | None) -> str | None:
    if st is None:
        return None
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "other"


def _check(change: Change, dir_fd: int | None, name: str, since_ns: int, replaced: bool) -> None:
    """Raise ``_Conflict`` when the host path is no longer what the change set was judged against."""
    host = lstat_at(name, dir_fd) if dir_fd is not None else None
    old = change.old
    if old is None or replaced:
        if host is not None and not (change.kind == "dir" and stat.S_ISDIR(host.st_mode)):
            if not replaced:
                raise _Conflict("created on the host meanwhile")
        return
    if host is None:
        raise _Conflict("deleted on the host meanwhile")
    if _host_kind(host) != old.kind:
        raise _Conflict("replaced on the host meanwhile")
    if old.kind == "dir" and change.kind == "deleted":
        assert dir_fd is not None  # noqa: S101 - host is not None, so the parent was opened
        if _tree_changed_since(name, dir_fd, since_ns):
            raise _Conflict("changed on the host meanwhile")
    elif _changed_since(host, since_ns):
        raise _Conflict("changed on the host meanwhile")


@dataclass
class _Staged:
    """A verified copy in a temporary file next to its target, waiting to be renamed into place."""

    change: Change
    temp: str
    exclusive: bool
    replaced: bool


def _stage_copy(upper: Path, change: Change, dir_fd: int, exclusive: bool, replaced: bool) -> _Staged:
    """Copy the layer's file into a temporary file beside the target; only the judged bytes pass."""
    parents, upper_name = change.path.parts[:-1], change.path.parts[-1]
    with open_directory(upper, parents, create=False) as src_dir:
        if src_dir is None:
            raise _Conflict("vanished from the layer")
        src = os.open(upper_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise _Conflict("changed in the layer after it was judged")
        temp, fd = create_temp(dir_fd, stat.S_IMODE(change.mode) & 0o777)
        try:
            digest = hashlib.sha256()
            try:
                while chunk := os.read(src, CHUNK):
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                os.fchmod(fd, stat.S_IMODE(change.mode) & 0o777)
            finally:
                os.close(fd)
            if digest.hexdigest() != change.sha256:
                raise _Conflict("changed in the layer after it was judged")
        except BaseException:
            remove_quietly(temp, dir_fd)
            raise
    finally:
        os.close(src)
    return _Staged(change, temp, exclusive, replaced)


def _commit(workspace: Path, staged: _Staged, since_ns: int) -> None:
    """Rename (or, for a new name, hard-link) the staged copy into place, checking the host again."""
    change = staged.change
    parents, name = change.path.parts[:-1], change.path.parts[-1]
    with open_directory(workspace, parents, create=False) as dir_fd:
        if dir_fd is None:
            raise _Conflict("its folder is gone on the host")
        try:
            _check(change, dir_fd, name, since_ns, staged.replaced)
            if staged.exclusive:
                try:
                    os.link(staged.temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
                except FileExistsError:
                    raise _Conflict("created on the host meanwhile") from None
            else:
                os.rename(staged.temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        finally:
            remove_quietly(staged.temp, dir_fd)


def _sync(workspace: Path) -> None:
    """Flush the workspace's filesystem once (``syncfs``): one flush for a thousand files, not one each."""
    fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _delete(change: Change, dir_fd: int, name: str) -> None:
    st = lstat_at(name, dir_fd)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _chmod(change: Change, dir_fd: int, name: str) -> None:
    st = lstat_at(name, dir_fd)
    if st is None or stat.S_ISLNK(st.st_mode):
        raise _Conflict("replaced on the host meanwhile")
    flags = (os.O_RDONLY | os.O_DIRECTORY) if stat.S_ISDIR(st.st_mode) else (os.O_RDONLY | os.O_NONBLOCK)
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        keep = stat.S_IMODE(os.fstat(fd).st_mode) & stat.S_ISGID if stat.S_ISDIR(st.st_mode) else 0
        os.fchmod(fd, (stat.S_IMODE(change.mode) & 0o777) | keep)
    finally:
        os.close(fd)


def _symlink(change: Change, dir_fd: int, name: str) -> None:
    assert change.link_target is not None  # noqa: S101 - symlink changes always carry their target
    temp, fd = create_temp(dir_fd, 0o600)
    os.close(fd)
    remove_quietly(temp, dir_fd)
    os.symlink(change.link_target, temp, dir_fd=dir_fd)
    try:
        if lstat_at(name, dir_fd) is not None:
            raise _Conflict("created on the host meanwhile")
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        remove_quietly(temp, dir_fd)


def _apply_one(workspace: Path, upper: Path, change: Change, since_ns: int, replaced: bool) -> _Staged | None:
    parents, name = change.path.parts[:-1], change.path.parts[-1]
    create = change.kind in ("created", "dir", "symlink")
    with open_directory(workspace, parents, create=create) as dir_fd:
        _check(change, dir_fd, name, since_ns, replaced)
        if dir_fd is None:
            raise _Conflict("its folder is gone on the host")
        if change.kind == "deleted":
            _delete(change, dir_fd, name)
        elif change.kind == "dir":
            if lstat_at(name, dir_fd) is None:
                with open_directory(workspace, change.path.parts, create=True):
                    pass
        elif change.kind == "mode" and stat.S_ISDIR(change.mode):
            _chmod(change, dir_fd, name)
        elif change.kind in ("created", "modified", "mode"):
            exclusive = change.kind == "created" and not replaced
            return _stage_copy(upper, change, dir_fd, exclusive, replaced)
        elif change.kind == "symlink":
            _symlink(change, dir_fd, name)
    return None


def apply_change_set(workspace: Path, upper: Path, changes: ChangeSet, verdict: Verdict, since_ns: int) -> ApplyOutcome:
    """Apply every change the verdict did not strip; conflicts are skipped and reported. Blocks.

    Args:
        workspace: the real workspace root.
        upper: the layer's upper folder (the source of new content).
        changes: the change set that was judged (and approved, when it needed a yes).
        verdict: its verdict (what to strip).
        since_ns: when the call's request reached the container (``Layer.created_ns``), for conflicts.
    """
    outcome = ApplyOutcome()
    blocked: set[PurePosixPath] = set()
    deleted: set[PurePosixPath] = set()
    staged: list[_Staged] = []
    ordered = sorted(
        changes.changes,
        key=lambda c: (_ORDER[c.kind], -len(c.path.parts) if c.kind == "deleted" else len(c.path.parts), c.path),
    )
    for change in ordered:
        if change.kind == "special" or change.path in verdict.skip:
            continue
        if _under(change.path, blocked):
            outcome.conflicts.append(f"{change.path}: not applied, a folder above it conflicted")
            continue
        try:
            copy = _apply_one(workspace, upper, change, since_ns, replaced=change.path in deleted)
        except (_Conflict, SecureMCPError, OSError) as exc:
            blocked.add(change.path)
            outcome.conflicts.append(_why(change, exc))
            continue
        if copy is not None:
            staged.append(copy)  # renamed into place once every copy's data is on disk
            continue
        if change.kind == "deleted":
            deleted.add(change.path)
        outcome.applied.append(change)
    if staged:
        _sync(workspace)
    for copy in staged:
        try:
            _commit(workspace, copy, since_ns)
        except (_Conflict, SecureMCPError, OSError) as exc:
            outcome.conflicts.append(_why(copy.change, exc))
            continue
        outcome.applied.append(copy.change)
    _sync(workspace)
    return outcome


def _why(change: Change, exc: BaseException) -> str:
    if isinstance(exc, _Conflict):
        return f"{change.path}: {exc}; the host's version was kept"
    why = errno.errorcode.get(exc.errno or 0, "EIO") if isinstance(exc, OSError) else str(exc)
    return f"{change.path}: could not be applied ({why}); the host's version was kept"
