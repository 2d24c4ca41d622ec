"""Where the pieces of one log live on disk, and reading them safely.

For ``audit.jsonl`` the log is: archives ``audit.jsonl.1``, ``audit.jsonl.2`` ... (oldest first,
never renamed again once written), the active file ``audit.jsonl``, the head file
``audit.jsonl.head`` and the lock file ``audit.jsonl.lock``. Archives get increasing numbers so a
rotation renames exactly one file; a logrotate-style cascade would rename every archive while
another process might be reading them.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from secure_mcp.audit.canonical import canonical_bytes, parse_object
from secure_mcp.audit.chain import head_mac

_CHUNK = 64 * 1024


def head_path(path: Path) -> Path:
    """The head file anchoring the last ``seq`` and ``hash`` of the log at ``path``."""
    return path.with_name(path.name + ".head")


def lock_path(path: Path) -> Path:
    """The lock file: separate from the log so rotation never renames a locked inode."""
    return path.with_name(path.name + ".lock")


def archives(path: Path) -> list[tuple[int, Path]]:
    """The rotated files of the log, oldest first.

    Raises:
        OSError: the folder cannot be listed.
    """
    pattern = re.compile(re.escape(path.name) + r"\.([1-9][0-9]{0,8})")
    found: list[tuple[int, Path]] = []
    if not path.parent.is_dir():
        return found
    for entry in os.listdir(path.parent):
        match = pattern.fullmatch(entry)
        if match is not None:
            found.append((int(match.group(1)), path.parent / entry))
    found.sort()
    return found


def log_files(path: Path) -> list[Path]:
    """Every file of the log in chain order: archives oldest first, then the active file."""
    files = [file for _, file in archives(path)]
    if os.path.lexists(path):
        files.append(path)
    return files


@dataclass(frozen=True, slots=True)
class Head:
    """What the head file claims: the last durable record's ``seq`` and ``hash``."""

    seq: int
    hash: str | None
    mac: object


def read_head(path: Path) -> Head | None:
    """The head of the log at ``path``, or ``None`` when there is no head file.

    Raises:
        OSError: the head file exists but cannot be read.
        ValueError: the head file is not a well-formed head.
    """
    try:
        with open(head_path(path), "rb") as handle:
            data = handle.read(4096)
    except FileNotFoundError:
        return None
    value = parse_object(data.rstrip(b"\n").rstrip(b" "))
    seq, last, mac = value.get("seq"), value.get("hash"), value.get("mac")
    if type(seq) is not int or seq < 0 or not (last is None or isinstance(last, str)):
        raise ValueError("head file fields have the wrong types")
    return Head(seq=seq, hash=last, mac=mac)


HEAD_BLOCK = 512
"""The head file is one fixed-size block: canonical JSON, space padding, a final newline."""


def write_head(path: Path, key: bytes | None, seq: int, last_hash: str | None, *, sync: bool = True) -> None:
    """Overwrite the head file in place with one ``pwrite`` of a fixed-size block.

    The head is only ever written after the log records it names are fsynced, so on disk it can
    lag the log but never run ahead of it. In place rather than temp file + rename: one small write
    into a page that already exists costs microseconds, while a rename per batch cost a journal
    commit and a second fsync, which capped the log at a few thousand batches per second. The block
    is 512 bytes at offset 0 (one sector), so a power loss leaves the old block or the new one;
    the size never changes after the first write, so no metadata has to reach the disk.

    Args:
        sync: fdatasync the head now. Without it the head reaches the disk with the kernel's
            writeback (or the store's next periodic sync): after a power loss it may lag the log,
            which verify accepts and reports (a lagging head can only under-claim, never hide a
            cut). A crash of the process loses nothing: the page cache already holds the new head.

    Raises:
        OSError: the head could not be written.
    """
    target = head_path(path)
    body = canonical_bytes({"hash": last_hash, "mac": head_mac(key, seq, last_hash), "seq": seq, "v": 1})
    if len(body) > HEAD_BLOCK - 1:
        raise OSError(errno.EOVERFLOW, "audit head larger than its block")
    block = body + b" " * (HEAD_BLOCK - 1 - len(body)) + b"\n"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if os.pwrite(fd, block, 0) != HEAD_BLOCK:
            raise OSError(errno.EIO, "short write of the audit head")
        if os.fstat(fd).st_size != HEAD_BLOCK:
            os.ftruncate(fd, HEAD_BLOCK)  # a head from an older version (or a hand edit) was longer
        if sync:
            os.fdatasync(fd)
    finally:
        os.close(fd)


def sync_head(path: Path) -> None:
    """fdatasync the head file as it is now (a missing head is nothing to sync).

    Raises:
        OSError: the head exists but could not be synced.
    """
    try:
        fd = os.open(head_path(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def read_tail(fd: int, size: int) -> tuple[bytes | None, int]:
    """The last complete line of the open file (without its newline) and where complete data ends.

    Bytes after the returned end offset are a torn tail (a line whose newline was never written).

    Raises:
        OSError: the file cannot be read.
    """
    end = size
    buffer = b""
    newline_at = -1
    while end > 0 and newline_at < 0:
        start = max(0, end - _CHUNK)
        buffer = os.pread(fd, end - start, start) + buffer
        end = start
        newline_at = buffer.rfind(b"\n")
    if newline_at < 0:
        return None, 0
    complete_end = end + newline_at + 1
    before = buffer.rfind(b"\n", 0, newline_at)
    while before < 0 and end > 0:
        start = max(0, end - _CHUNK)
        chunk = os.pread(fd, end - start, start)
        buffer = chunk + buffer
        newline_at += len(chunk)
        end = start
        before = buffer.rfind(b"\n", 0, newline_at)
    return buffer[before + 1 : newline_at], complete_end


def read_last_record_line(file: Path) -> bytes | None:
    """The last complete line of a closed file (an archive), or ``None`` when it is empty.

    Raises:
        OSError: the file cannot be read.
    """
    fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        line, _ = read_tail(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return line
