"""The copy-on-write layer a read-write container sees the workspace through.

Each read-write container gets its own layer, made before the container is created:

    <layers>/<id>/          a tmpfs of ``size_bytes`` (nosuid, nodev, mode 0700), mounted by the server
        upper/              the overlay's upper folder: everything the command changed
        work/               the overlay's work folder
    <layers>/<id>.merged    overlay(lower = the real workspace, upper, work), bind-mounted at /workspace

The container never writes the real workspace: every write lands in ``upper`` (copy-up), every
deletion is a whiteout there. The tmpfs is the quota: a command that writes more than its size gets
``ENOSPC`` inside the container; the host disk is never touched (tmpfs pages are also charged to the
container's memory cgroup, so ``[sandbox] memory`` bounds it too).

Why the server mounts (not the engine): reading ``upper`` afterwards needs it on a host path the
server can open, and the size limit needs a filesystem of its own; an engine-mounted tmpfs volume is
unmounted when its container goes, taking the change set with it. Two ``mount(2)`` calls cost well
under a millisecond; they need ``CAP_SYS_ADMIN`` in the Docker engine's mount namespace, which a
server that holds the Docker socket has in practice (see docs/sandbox.md). Without it, read-write
runs are refused (``layer_unavailable``); nothing falls back to writing the workspace directly.

Both mounts are detached lazily on discard, so discarding while the container is still being torn
down is safe: the kernel frees the tmpfs once the last user is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.owner import _start_time

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
#: Room for the overlay's own bookkeeping (work folder, directory copies) above the byte budget.
METADATA_SLACK_BYTES = 1024 * 1024
#: Prefix of layer folders; a sweep at start-up removes leftovers of a crashed server.
LAYER_PREFIX = "layer-"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    result = _libc.mount(source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode())
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), target)


def _umount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):  # not mounted (any more): nothing to do
            raise OSError(code, os.strerror(code), target)


def _escape(path: str) -> str:
    """A path as one overlay option value: ``,`` ``:`` and ``\\`` are escaped with a backslash."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def coarse_now_ns() -> int:
    """The clock the kernel stamps ``ctime`` with (coarse realtime), so comparisons are consistent."""
    coarse = getattr(time, "CLOCK_REALTIME_COARSE", None)
    return time.clock_gettime_ns(coarse) if coarse is not None else time.time_ns()


@dataclass(eq=False)
class Layer:
    """One mounted layer. ``created_ns`` is when the overlay was mounted, then (set by the sandbox)
    when the call's request was handed to the container (coarse realtime clock, as ``ctime``).

    A host file whose ``ctime`` is at or after ``created_ns`` changed while the command could see
    it: applying over it is a conflict. Before the request arrives, a pooled container has looked
    nothing up in the workspace (its runner only waits), so earlier host edits are simply seen.
    """

    root: Path
    merged: Path
    size_bytes: int
    created_ns: int
    _discarded: bool = field(default=False, repr=False)

    @property
    def discarded(self) -> bool:
        return self._discarded

    def discard_soon(self) -> None:
        """``discard`` on a helper thread: two unmounts and two rmdirs kept off the call's path."""
        if not self._discarded:
            threading.Thread(target=self.discard, name="secure-mcp-layer-discard", daemon=True).start()

    @property
    def upper(self) -> Path:
        return self.root / "upper"

    def used_bytes(self) -> int:
        """Bytes in use on the layer's tmpfs (what the command wrote, plus overlay bookkeeping)."""
        info = os.statvfs(self.root)
        return (info.f_blocks - info.f_bfree) * info.f_frsize

    def full(self) -> bool:
        """Whether the command ran out of room (less than one metadata slack left)."""
        info = os.statvfs(self.root)
        return info.f_bavail * info.f_frsize < METADATA_SLACK_BYTES // 2

    def discard(self) -> None:
        """Detach both mounts and remove the folders; idempotent, never raises."""
        if self._discarded:
            return
        self._discarded = True
        for target in (self.merged, self.root):
            with contextlib.suppress(OSError):
                _umount(str(target))
        for target in (self.merged, self.root):
            with contextlib.suppress(OSError):
                target.rmdir()


def create_layer(layers: Path, workspace: Path, size_bytes: int) -> Layer:
    """Mount a fresh tmpfs and an overlay of ``workspace`` on it; blocks for well under a millisecond.

    The upper folder's root takes the workspace root's owner, group and mode: it is what the
    container sees as ``/workspace`` itself, and the sandbox user must be able to create files there
    exactly as it could in the real workspace.

    Raises:
        SandboxError: ``layer_unavailable`` when the mounts fail (no CAP_SYS_ADMIN, no overlay).
    """
    name = LAYER_PREFIX + secrets.token_hex(8)
    root = layers / name
    merged = layers / (name + ".merged")
    try:
        layers.mkdir(mode=0o700, parents=True, exist_ok=True)
        root.mkdir(mode=0o700)
        merged.mkdir(mode=0o700)
    except OSError as exc:
        raise SandboxError("layer_unavailable", f"cannot create the layer folder ({exc.strerror})") from None
    layer = Layer(root, merged, size_bytes, coarse_now_ns())
    try:
        _mount("tmpfs", str(root), "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_bytes + METADATA_SLACK_BYTES},mode=0700")
        info = os.stat(workspace)
        upper, work = root / "upper", root / "work"
        upper.mkdir()
        work.mkdir(mode=0o700)
        os.chown(upper, info.st_uid, info.st_gid)
        os.chmod(upper, info.st_mode & 0o7777)
        layer.created_ns = coarse_now_ns()
        options = f"lowerdir={_escape(str(workspace))},upperdir={_escape(str(upper))},workdir={_escape(str(work))}"
        _mount("overlay", str(merged), "overlay", MS_NOSUID | MS_NODEV, options)
    except OSError as exc:
        layer.discard()
        raise SandboxError(
            "layer_unavailable",
            "cannot mount the copy-on-write layer for a read-write run "
            f"({errno.errorcode.get(exc.errno or 0, 'EIO')}); the server needs CAP_SYS_ADMIN and overlayfs, "
            "see docs/sandbox.md",
        ) from None
    return layer


def sweep_layers(layers: Path) -> int:
    """Detach and remove layers a previous server left behind; returns how many. Never raises.

    Call it only when no other server uses this folder (each server has its own state folder).
    """
    removed = 0
    try:
        entries = sorted(layers.iterdir(), key=lambda p: p.name.endswith(".merged"), reverse=True)
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(LAYER_PREFIX):
            continue
        with contextlib.suppress(OSError):
            _umount(str(entry))
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink() and not os.path.ismount(entry):
                shutil.rmtree(entry)
                removed += 1
    return removed


def layer_folder_name(pid: int | None = None) -> str:
    """``<pid>-<process start time>``: names one server process's layer folder (pid reuse defeated)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{_start_time(pid) or 'unknown'}"


def sweep_dead_layer_folders(base: Path) -> int:
    """``sweep_layers`` in every process folder under ``base`` whose process is gone. Never raises."""
    removed = 0
    try:
        folders = list(base.iterdir())
    except OSError:
        return 0
    for folder in folders:
        pid, _, started = folder.name.partition("-")
        if not pid.isdigit() or not folder.is_dir() or folder.is_symlink():
            continue
        if _start_time(int(pid)) == started:
            continue  # that server still runs: its layers are in use
        removed += sweep_layers(folder)
        with contextlib.suppress(OSError):
            folder.rmdir()
    return removed
