"""Reading the change set: what a read-write run changed, from its layer's upper folder.

Only the upper folder is walked (plus, for each changed name, one look at the same name in the
workspace), so the cost follows the change set, never the size of the workspace. overlayfs records:

* a created or changed file, link, folder, fifo or socket as itself (a changed file is copied up
  whole: ``metacopy`` is off by default, so a ``chmod`` also copies the content);
* a deletion as a *whiteout*: a character device 0/0 with the deleted name;
* a folder deleted and made again (``rm -rf d; mkdir d``) as an *opaque* folder
  (xattr ``trusted.overlay.opaque = y``): nothing of the workspace's folder shows through it;
* a renamed workspace folder as a copy plus a whiteout (``redirect_dir`` is off by default, so
  ``rename`` gets ``EXDEV`` and ``mv`` copies).

The upper folder belongs to the container until it is torn down, so it is walked descriptor by
descriptor without following links, and every file's SHA-256 is taken here: applying later copies
only bytes with that same digest (see ``apply``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from secure_mcp.workspace_fs.protected import Kind, kind_of_mode
from secure_mcp.workspace_fs.walk import DIR_FLAGS

ChangeKind = Literal["created", "modified", "deleted", "mode", "symlink", "dir", "special"]
OPAQUE_XATTR = "trusted.overlay.opaque"
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20


@dataclass(frozen=True)
class Old:
    """What the workspace held at a changed path when the change set was read."""

    kind: Kind
    size: int  # bytes; for a folder, the bytes of every file below it
    files: int = 1  # entries below a folder (for the question and max_files)
    mode: int = 0
    sha256: str | None = None
    protected_inside: str | None = None  # a protected path a deleted folder holds (e.g. "proj/.git")


@dataclass(frozen=True)
class Change:
    """One changed path. ``size``/``sha256`` describe the new content (files; link text for links)."""

    path: PurePosixPath
    kind: ChangeKind
    size: int = 0
    mode: int = 0
    sha256: str | None = None
    link_target: str | None = None
    old: Old | None = None
    appended: bool = False  # a modified file whose old content is an unchanged prefix
    special: str | None = None  # "fifo", "socket" or "device" for kind "special"
    nlink: int = 1

    def as_dict(self) -> dict[str, object]:
        """The SPEC's change entry: path, kind, bytes."""
        return {"path": self.path.as_posix(), "kind": self.kind, "bytes": self.size}

    def audit_dict(self) -> dict[str, object]:
        """The audit entry: the SPEC's fields plus the content's SHA-256 and the mode."""
        entry: dict[str, object] = {**self.as_dict(), "sha256": self.sha256, "mode": oct(stat.S_IMODE(self.mode))}
        if self.old is not None:
            entry["old_bytes"] = self.old.size
        return entry


@dataclass
class ChangeSet:
    """Every change a run made, in a stable order (path, then kind)."""

    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def added_bytes(self) -> int:
        """Bytes of new content: created and modified files (what the layer had to hold)."""
        return sum(c.size for c in self.changes if c.kind in ("created", "modified", "mode"))

    def touched(self) -> int:
        """Paths touched, counting every entry below a deleted folder."""
        return sum(c.old.files if c.kind == "deleted" and c.old is not None else 1 for c in self.changes)

    def digest(self) -> str:
        """SHA-256 over the canonical change list: what a yes is bound to."""
        rows = [
            [
                c.path.as_posix(),
                c.kind,
                c.size,
                c.mode,
                c.sha256,
                c.link_target,
                None if c.old is None else [c.old.kind, c.old.size, c.old.files, c.old.sha256],
            ]
            for c in self.changes
        ]
        return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _lstat(name: str, dir_fd: int | None) -> os.stat_result | None:
    if dir_fd is None:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _hash_fd(fd: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _hash_file(name: str, dir_fd: int, prefix: int | None = None) -> tuple[str, int] | None:
    """SHA-256 and size of a regular file (or of its first ``prefix`` bytes); None if not one."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        if prefix is None:
            return _hash_fd(fd)
        digest = hashlib.sha256()
        left = prefix
        while left > 0 and (chunk := os.read(fd, min(CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
        return digest.hexdigest(), prefix - left
    finally:
        os.close(fd)


def _subtree(name: str, dir_fd: int, protected: frozenset[str]) -> tuple[int, int, str | None]:
    """(entries, bytes of files, first protected path) below a workspace folder, links never followed."""
    entries = 0
    size = 0
    found: str | None = None
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError:
        return 0, 0, None
    try:
        for root, dirs, files, root_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            entries += len(dirs) + len(files)
            if found is None:
                hit = next((entry for entry in (*dirs, *files) if entry in protected), None)
                if hit is not None:
                    found = os.path.normpath(os.path.join(name, root, hit))
            for file in files:
                st = _lstat(file, root_fd)
                if st is not None and stat.S_ISREG(st.st_mode):
                    size += st.st_size
    finally:
        os.close(fd)
    return entries, size, found


def _old(name: str, st: os.stat_result, lower_fd: int, protected: frozenset[str]) -> Old:
    kind = kind_of_mode(st.st_mode)
    if kind == "dir":
        entries, size, found = _subtree(name, lower_fd, protected)
        return Old("dir", size, entries + 1, st.st_mode, protected_inside=found)
    return Old(kind, st.st_size if kind == "file" else 0, 1, st.st_mode)


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


def _scan(upper_fd: int, lower_fd: int | None, rel: PurePosixPath, protected: frozenset[str]) -> Iterator[Change]:
    for name in sorted(os.listdir(upper_fd)):
        path = rel / name
        st = os.stat(name, dir_fd=upper_fd, follow_symlinks=False)
        low = _lstat(name, lower_fd)
        old = _old(name, low, lower_fd, protected) if low is not None and lower_fd is not None else None
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:  # whiteout
            if old is not None:
                yield Change(path, "deleted", old=old)
            continue
        if stat.S_ISDIR(mode):
            yield from _scan_dir(name, upper_fd, lower_fd, path, st, old, protected)
        elif stat.S_ISREG(mode):
            yield from _scan_file(name, upper_fd, lower_fd, path, st, old)
        elif stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=upper_fd)
            if old is not None and old.kind == "link" and lower_fd is not None:
                if os.readlink(name, dir_fd=lower_fd) == target:
                    continue
            if old is not None:
                yield Change(path, "deleted", old=old)
            digest = hashlib.sha256(os.fsencode(target)).hexdigest()
            yield Change(path, "symlink", len(os.fsencode(target)), mode, digest, target)
        else:
            special = "fifo" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
            if old is not None:
                yield Change(path, "deleted", old=old)
            yield Change(path, "special", 0, mode, special=special)


def _scan_dir(
    name: str,
    upper_fd: int,
    lower_fd: int | None,
    path: PurePosixPath,
    st: os.stat_result,
    old: Old | None,
    protected: frozenset[str],
) -> Iterator[Change]:
    child_upper = os.open(name, DIR_FLAGS, dir_fd=upper_fd)
    child_lower: int | None = None
    try:
        if old is not None and old.kind == "dir" and lower_fd is not None and not _is_opaque(child_upper):
            if stat.S_IMODE(st.st_mode) != stat.S_IMODE(old.mode):
                yield Change(path, "mode", 0, st.st_mode, old=Old("dir", 0, 1, old.mode))
            try:
                child_lower = os.open(name, DIR_FLAGS, dir_fd=lower_fd)
            except OSError:
                child_lower = None
        else:
            if old is not None:  # a file replaced by a folder, or a folder deleted and made again
                yield Change(path, "deleted", old=old)
            yield Change(path, "dir", 0, st.st_mode)
        yield from _scan(child_upper, child_lower, path, protected)
    finally:
        os.close(child_upper)
        if child_lower is not None:
            os.close(child_lower)


def _scan_file(
    name: str, upper_fd: int, lower_fd: int | None, path: PurePosixPath, st: os.stat_result, old: Old | None
) -> Iterator[Change]:
    hashed = _hash_file(name, upper_fd)
    if hashed is None:  # swapped while being read: the container is still going away
        raise OSError(errno.EAGAIN, "the layer changed while it was being read")
    digest, size = hashed
    if old is None or old.kind != "file" or lower_fd is None:
        if old is not None:
            yield Change(path, "deleted", old=old)
        yield Change(path, "created", size, st.st_mode, digest, nlink=st.st_nlink)
        return
    before = _hash_file(name, lower_fd)
    old = Old("file", old.size, 1, old.mode, before[0] if before else None)
    if before is not None and before[0] == digest:
        if stat.S_IMODE(st.st_mode) != stat.S_IMODE(old.mode):
            yield Change(path, "mode", size, st.st_mode, digest, old=old, nlink=st.st_nlink)
        return  # copied up but unchanged (opened for writing, touched): nothing to apply
    appended = False
    if before is not None and 0 < old.size <= size:
        prefix = _hash_file(name, upper_fd, old.size)
        appended = prefix is not None and prefix[0] == before[0]
    yield Change(path, "modified", size, st.st_mode, digest, old=old, appended=appended, nlink=st.st_nlink)


def read_change_set(upper: Path, workspace: Path, protected_names: Iterable[str] = ()) -> ChangeSet:
    """The change set of one layer against the workspace as it is now.

    ``protected_names`` are looked for below deleted folders (deleting ``proj`` deletes ``proj/.git``).

    Raises:
        OSError: the layer or the workspace cannot be read; callers refuse the change set.
    """
    upper_fd = os.open(upper, DIR_FLAGS)
    try:
        lower_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            changes = list(_scan(upper_fd, lower_fd, PurePosixPath(), frozenset(protected_names)))
        finally:
            os.close(lower_fd)
    finally:
        os.close(upper_fd)
    return ChangeSet(changes)
