"""Reading the current content of a target, for the overwrite confirmation diff."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from secure_mcp.workspace_fs._files import open_existing_no_follow, split_target
from secure_mcp.workspace_fs.walk import io_failure, open_directory


@dataclass(frozen=True)
class ExistingFile:
    """The head of an existing file and whether it was cut.

    Attributes:
        data: at most ``limit`` bytes from the start of the file.
        size: the file's size in bytes at the time it was read.
        truncated: ``data`` is shorter than the file; the diff must say so.
    """

    data: bytes
    size: int
    truncated: bool


def snapshot_existing(root: Path, rel: PurePosixPath, limit: int) -> ExistingFile | None:
    """Read up to ``limit`` bytes of ``root/rel`` without following links; ``None`` if absent.

    A missing parent directory also gives ``None`` (the write would create it).

    Raises:
        Denied: stage ``validate``: ``symlink`` (target or a parent is a link), ``not_a_directory``,
            ``not_regular_file`` (directory, device, FIFO, socket), ``path_race``.
        ToolFailure: ``workspace_unavailable`` or ``io_error``.
    """
    parents, name = split_target(rel)
    shown = rel.as_posix()
    try:
        with open_directory(root, parents, create=False) as dir_fd:
            if dir_fd is None:
                return None
            try:
                fd, st = open_existing_no_follow(name, dir_fd, os.O_RDONLY, shown)
            except FileNotFoundError:
                return None
            try:
                chunks: list[bytes] = []
                remaining = max(limit, 0)
                while remaining > 0:
                    chunk = os.read(fd, min(remaining, 1 << 20))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    remaining -= len(chunk)
            finally:
                os.close(fd)
    except OSError as exc:
        raise io_failure(f"read {shown}", exc) from exc
    data = b"".join(chunks)
    return ExistingFile(data, max(st.st_size, len(data)), st.st_size > len(data))


def read_existing(root: Path, rel: PurePosixPath, limit: int) -> bytes | None:
    """The current content of ``root/rel`` (first ``limit`` bytes), ``None`` if it does not exist.

    Use ``snapshot_existing`` when the caller needs to know whether the content was cut.

    Raises:
        Denied: as ``snapshot_existing``.
        ToolFailure: as ``snapshot_existing``.
    """
    snapshot = snapshot_existing(root, rel, limit)
    return None if snapshot is None else snapshot.data
