"""The workspace as it would be after a change set: upper folder over the workspace, no mount needed.

The judge asks a few questions of that future state (is ``D/HEAD`` a file, does ``D/config`` declare
``[core]``, where does a link lead); they are answered the way overlayfs would, component by
component, without following any link: whiteouts hide, opaque folders hide everything below them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from secure_mcp.workspace_fs.protected import Kind, kind_of_mode

OPAQUE_XATTR = "trusted.overlay.opaque"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


class AfterView:
    """Answers ``kind_of`` and ``read_head`` for the state a change set would leave behind."""

    def __init__(self, upper: Path, workspace: Path, read_limit: int = 64 * 1024) -> None:
        self._upper = upper
        self._workspace = workspace
        self._limit = read_limit

    def _locate(self, rel: PurePosixPath) -> tuple[Kind | None, Path | None]:
        """The kind at ``rel`` and the host path holding it (None when a link is on the way)."""
        parts = [p for p in rel.parts if p not in ("", ".")]
        if not parts:
            return "dir", self._workspace
        upper_ok, lower_ok = True, True
        for index in range(len(parts)):
            prefix = PurePosixPath(*parts[: index + 1])
            final = index == len(parts) - 1
            ust = _lstat(self._upper / prefix) if upper_ok else None
            if ust is not None and _whiteout(ust):
                return None, None
            lst = _lstat(self._workspace / prefix) if lower_ok else None
            if ust is not None:
                kind = kind_of_mode(ust.st_mode)
                if final:
                    return kind, self._upper / prefix
                if kind == "link":
                    return "link", None  # what lies behind a link is judged as a link (fail closed)
                if kind != "dir":
                    return None, None
                lower_ok = lower_ok and lst is not None and stat.S_ISDIR(lst.st_mode)
                lower_ok = lower_ok and not _opaque(self._upper / prefix)
                continue
            upper_ok = False
            if lst is None:
                return None, None
            kind = kind_of_mode(lst.st_mode)
            if final:
                return kind, self._workspace / prefix
            if kind == "link":
                return "link", None
            if kind != "dir":
                return None, None
        return None, None  # pragma: no cover - the loop always returns on the final part

    def kind_of(self, rel: PurePosixPath) -> Kind | None:
        return self._locate(rel)[0]

    def read_head(self, rel: PurePosixPath) -> bytes | None:
        kind, where = self._locate(rel)
        if kind != "file" or where is None:
            return None
        try:
            fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return os.read(fd, self._limit)
        finally:
            os.close(fd)

    def link_escapes(self, rel: PurePosixPath, target: str, max_hops: int = 40) -> bool:
        """Whether the link at ``rel`` with ``target`` resolves outside the workspace (or too deep).

        Resolved in the after-state, following links inside the workspace, at most ``max_hops``.
        An absolute target always escapes: on the host it names a host path, not the workspace.
        """
        pending = target.split("/")
        if target.startswith("/"):
            return True
        current: list[str] = list(rel.parts[:-1])
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    return True
                current.pop()
                continue
            current.append(part)
            kind, where = self._locate(PurePosixPath(*current))
            if kind == "link" and where is not None:
                hops += 1
                if hops > max_hops:
                    return True
                inner = os.readlink(where)
                if inner.startswith("/"):
                    return True
                current.pop()
                pending = inner.split("/") + pending
            elif kind == "link":
                return True  # a link further up that could not be read: fail closed
        return False
