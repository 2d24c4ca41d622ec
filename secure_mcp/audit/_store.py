"""The locked, synchronous heart of the log: learn the tail, seal a batch, write, fsync, anchor.

Everything here runs in one worker thread at a time (``_mutex``) and, across processes, under an
``flock`` on the lock file. After taking the lock the store re-reads the tail whenever the file is
not exactly as this process left it (another process appended or rotated), so two servers sharing a
log never fork the chain.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from secure_mcp.audit.canonical import canonical_members, parse_object
from secure_mcp.audit.chain import has_valid_hash, has_valid_head_mac, seal
from secure_mcp.audit.files import (
    archives,
    lock_path,
    read_head,
    read_last_record_line,
    read_tail,
    sync_head,
    write_head,
)
from secure_mcp.errors import AuditError

_log = logging.getLogger(__name__)
_UNREADABLE = "the last audit record is not valid; run audit verify"
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
HEAD_SYNC_INTERVAL_S = 1.0
"""The head is fdatasynced at most this often (and at close); in between it is written, not synced."""


def format_ts(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``: sortable as text."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _failed(reason: str, what: str, exc: OSError) -> AuditError:
    return AuditError(reason, f"{what} ({exc.strerror or exc.__class__.__name__})")


@dataclass(frozen=True, slots=True)
class _Tail:
    ino: int
    size: int
    seq: int
    hash: str | None


class LogStore:
    """Synchronous append of sealed batches; see ``AuditLog`` for the async front."""

    def __init__(
        self,
        path: Path,
        *,
        key: bytes | None,
        max_bytes: int,
        lock_timeout_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.path = path
        self._key = key
        self._max_bytes = max_bytes
        self._lock_timeout_s = lock_timeout_s
        self._clock = clock
        self._mutex = threading.Lock()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._tail: _Tail | None = None
        self._head_seq: int | None = None
        self._recovery: dict[str, Any] | None = None
        self._poisoned: str | None = None
        self._head_failed = False
        self._head_synced_at = float("-inf")
        self._head_unsynced = False

    def open(self) -> None:
        """Create the folder (0700) and open the lock file; no lock is held afterwards.

        Raises:
            AuditError: the folder or lock file cannot be created.
        """
        with self._mutex:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if self._lock_fd is None:
                    self._lock_fd = os.open(lock_path(self.path), _OPEN_FLAGS & ~os.O_APPEND, 0o600)
            except OSError as exc:
                what = f"cannot open the audit log folder {self.path.parent}"
                raise _failed("open_failed", what, exc) from None

    def close(self) -> None:
        """Sync the head if it has unsynced updates, then release the file descriptors."""
        with self._mutex:
            if self._head_unsynced:
                try:
                    sync_head(self.path)  # flush what the page cache holds; no rewrite, no lock needed
                    self._head_unsynced = False
                except OSError as exc:
                    _log.warning("could not sync the audit head file at close: %s", exc.strerror)
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None
            self._tail = None

    def commit(
        self, batch: Sequence[Mapping[str, bytes]], on_durable: Callable[[list[int]], None] | None = None
    ) -> list[int]:
        """Seal and durably append ``batch`` (records as ``canonical_members``); their ``seq`` numbers.

        An empty batch still takes the lock and repairs a torn tail (used at open). ``on_durable`` is
        called as soon as the batch is fsynced, before the head file is updated, so callers can be
        released while the head is written; if that head update fails, the next batch retries it
        first and is refused when it fails again, so at most one batch is acknowledged with a
        lagging head (which verify accepts: it can only under-claim). The head is written in place
        after every batch (so a cut is caught as before) and fdatasynced at most once per
        ``HEAD_SYNC_INTERVAL_S`` and at close; only a power loss can make it lag by more.

        Raises:
            AuditError: nothing of the batch is durable (or the head could not be anchored).
        """
        with self._mutex:
            if self._poisoned is not None:
                raise AuditError("log_failed", self._poisoned)
            if self._lock_fd is None:
                raise AuditError("not_open", "the audit log is not open")
            self._acquire(self._lock_fd)
            try:
                return self._commit_locked(batch, on_durable)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def try_commit(self, batch: Sequence[Mapping[str, bytes]]) -> list[int] | None:
        """``commit`` now, on the calling thread, only if nothing has to be waited for.

        Returns ``None`` (nothing written) when another thread is committing or another process
        holds the log's lock: the caller then queues the batch instead of blocking on it.

        Raises:
            AuditError: nothing of the batch is durable.
        """
        if not self._mutex.acquire(blocking=False):
            return None
        try:
            if self._poisoned is not None:
                raise AuditError("log_failed", self._poisoned)
            if self._lock_fd is None:
                raise AuditError("not_open", "the audit log is not open")
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            try:
                return self._commit_locked(batch, None)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _acquire(self, lock_fd: int) -> None:
        deadline = time.monotonic() + self._lock_timeout_s
        delay = 0.0001
        while True:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                raise _failed("lock_failed", "cannot lock the audit log", exc) from None
            if time.monotonic() > deadline:
                raise AuditError("lock_timeout", f"the audit log stayed locked for {self._lock_timeout_s}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.002)

    def _commit_locked(
        self, batch: Sequence[Mapping[str, bytes]], on_durable: Callable[[list[int]], None] | None
    ) -> list[int]:
        fd, tail = self._sync_state()
        if self._head_failed:
            self._write_head(tail.seq, tail.hash)
        seq, prev, ts = tail.seq, tail.hash, format_ts(self._clock())
        lines: list[bytes] = []
        results: list[int] = []
        if self._recovery is not None:
            line, prev = seal(self._key, canonical_members(self._recovery), seq=seq + 1, ts=ts, prev=prev)
            seq += 1
            lines.append(line)
        for members in batch:
            line, prev = seal(self._key, members, seq=seq + 1, ts=ts, prev=prev)
            seq += 1
            lines.append(line)
            results.append(seq)
        if lines:
            data = b"".join(lines)
            self._write(fd, data, tail)
            self._recovery = None
            self._tail = _Tail(tail.ino, tail.size + len(data), seq, prev)
        released = on_durable is not None and bool(lines)
        if on_durable is not None and lines:
            on_durable(results)
        if self._head_seq != seq:
            try:
                self._write_head(seq, prev)
            except AuditError:
                if not released:
                    raise
        if lines and self._tail is not None and self._tail.size >= self._max_bytes:
            self._rotate()
        return results

    def _write_head(self, seq: int, last: str | None) -> None:
        now = time.monotonic()
        sync = now - self._head_synced_at >= HEAD_SYNC_INTERVAL_S
        try:
            write_head(self.path, self._key, seq, last, sync=sync)
        except OSError as exc:
            self._head_failed = True
            raise _failed("head_write_failed", "cannot update the audit head file", exc) from None
        self._head_failed = False
        self._head_seq = seq
        if sync:
            self._head_synced_at = now
        self._head_unsynced = not sync

    def _write(self, fd: int, data: bytes, tail: _Tail) -> None:
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self._tail = None
            try:
                os.ftruncate(fd, tail.size)
            except OSError:
                self._poisoned = "the audit log holds a partial write that could not be removed; restart"
            raise _failed("write_failed", f"cannot write the audit log {self.path}", exc) from None
        try:
            os.fdatasync(fd)  # the size of an append is included: POSIX requires it
        except OSError as exc:
            # After a failed fsync the kernel may have dropped the dirty pages: never trust this fd again.
            self._poisoned = "an fsync of the audit log failed; restart the server to recover"
            raise _failed("fsync_failed", f"cannot make the audit log {self.path} durable", exc) from None

    def _sync_state(self) -> tuple[int, _Tail]:
        try:
            return self._sync_state_io()
        except OSError as exc:
            self._tail = None
            raise _failed("read_failed", f"cannot read the audit log {self.path}", exc) from None

    def _sync_state_io(self) -> tuple[int, _Tail]:
        try:
            st: os.stat_result | None = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise AuditError("not_a_file", f"the audit log {self.path} is not a regular file")
        tail = self._tail
        if self._fd is not None and tail is not None and st is not None:
            if (st.st_ino, st.st_size) == (tail.ino, tail.size):
                return self._fd, tail
        if self._fd is not None and (st is None or tail is None or st.st_ino != tail.ino):
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
            if st is None:
                _fsync_dir(self.path.parent)
        fd = self._fd
        info = os.fstat(fd)
        line, end = read_tail(fd, info.st_size)
        if line is None:
            older = archives(self.path)
            line = read_last_record_line(older[-1][1]) if older else None
        seq, last = self._check_last(line)
        self._check_head(seq, last)
        if end < info.st_size:
            torn = os.pread(fd, info.st_size - end, end)
            os.ftruncate(fd, end)
            self._recovery = {
                "event": "recovery",
                "reason": "torn_tail",
                "file": self.path.name,
                "offset": end,
                "lost_bytes": len(torn),
                "lost_sha256": hashlib.sha256(torn).hexdigest(),
                "pid": os.getpid(),
            }
        self._tail = _Tail(info.st_ino, end, seq, last)
        return fd, self._tail

    def _check_last(self, line: bytes | None) -> tuple[int, str | None]:
        if line is None:
            return 0, None
        try:
            record = parse_object(line)
        except ValueError:
            raise AuditError("tail_unreadable", _UNREADABLE) from None
        seq, digest = record.get("seq"), record.get("hash")
        if type(seq) is not int or seq < 1 or not isinstance(digest, str):
            raise AuditError("tail_unreadable", _UNREADABLE)
        if not has_valid_hash(self._key, record):
            raise AuditError(
                "chain_mismatch",
                "the last audit record does not verify with the configured key (key changed or log "
                "edited); run audit verify, or start a new log",
            )
        return seq, digest

    def _check_head(self, seq: int, last: str | None) -> None:
        try:
            head = read_head(self.path)
        except ValueError:
            raise AuditError("head_invalid", "the audit head file is malformed; run audit verify") from None
        if head is None:
            self._head_seq = None
            return
        if not has_valid_head_mac(self._key, head.seq, head.hash, head.mac):
            raise AuditError("head_invalid", "the audit head file does not verify; run audit verify")
        if head.seq > seq:
            raise AuditError(
                "log_truncated",
                f"the audit log ends at record {seq} but its head file says {head.seq}: records were "
                "removed or the file vanished; run audit verify",
            )
        if head.seq == seq and head.hash != last:
            raise AuditError("head_mismatch", "the audit head file does not match the log; run audit verify")
        self._head_seq = head.seq

    def _rotate(self) -> None:
        try:
            older = archives(self.path)
            target = self.path.with_name(f"{self.path.name}.{older[-1][0] + 1 if older else 1}")
            if os.path.lexists(target):
                return
            os.rename(self.path, target)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            _log.warning("audit log rotation failed, will retry: %s", exc.strerror)
            return
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._tail = None
