"""Where the pieces of one log live on disk, and reading them safely.

For ``audit.jsonl`` the log is: archives ``audit.jsonl.1``, ``audit.jsonl.2`` ... (oldest first,
never renamed again once written), the active file ``audit.jsonl``, the head file
``audit.jsonl.head`` and the lock file ``audit.jsonl.lock``. Archives get increasing numbers so a
rotation renames exactly one file; a logrotate-style cascade would rename every archive while
another process might be reading them.
"""

from __future__ import annotations

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
    value = parse_object(data.rstrip(b"\n"))
    seq, last, mac = value.get("seq"), value.get("hash"), value.get("mac")
    if type(seq) is not int or seq < 0 or not (last is None or isinstance(last, str)):
        raise ValueError("head file fields have the wrong types")
    return Head(seq=seq, hash=last, mac=mac)


def write_head(path: Path, key: bytes | None, seq: int, last_hash: str | None) -> None:
    """Replace the head file atomically: temp file, fsync, rename.

    The folder is not fsynced: after a power loss the rename may be lost and the head then lags the
    log, which verify accepts (a lagging head can only under-claim, never hide a cut).

    Raises:
        OSError: the head could not be written.
    """
    target = head_path(path)
    temp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    body = {"hash": last_hash, "mac": head_mac(key, seq, last_hash), "seq": seq, "v": 1}
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, canonical_bytes(body) + b"\n")
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)


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
