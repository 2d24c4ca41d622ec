"""``AuditLog``: the async front of the log, with group commit.

Appends from many concurrent calls are queued; one writer task drains the queue into a batch and
hands it to a worker thread, which takes the file lock, writes the whole batch with a single
``os.write``, fsyncs once and updates the head file. Each caller's future is resolved only after
that fsync, so ``append`` never returns before its own record is durable, and while one batch is
being synced the next one gathers: the busier the server, the larger the batch, and one fsync is
shared by all of it.
"""

from __future__ import annotations

import asyncio
import json
import json.encoder
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

from secure_mcp.audit._store import LogStore
from secure_mcp.audit.canonical import canonical_members
from secure_mcp.audit.chain import RESERVED_FIELDS
from secure_mcp.errors import AuditError

_Pending = tuple[dict[str, bytes], "asyncio.Future[int]"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


_encode_str = json.encoder.encode_basestring_ascii  # what the canonical encoder does for a str


def _members(record: Mapping[str, Any]) -> dict[str, bytes]:
    """``canonical_members(record)``, byte for byte, with a fast path for the common leaf types.

    Top-level strings, ints, finite floats, booleans and ``None`` are encoded directly, exactly as
    the canonical encoder would (``ensure_ascii`` escaping, ``int.__repr__``, ``float.__repr__``,
    ``true``/``false``/``null``); any other member (NaN and infinities, which it refuses, lists,
    objects, subclasses) goes through ``canonical_members`` itself.
    Verify recomputes the canonical form of every stored line, so any divergence would be caught.
    """
    members: dict[str, bytes] = {}
    for name, item in record.items():
        kind = type(item)
        if type(name) is not str:
            return canonical_members(record)
        if kind is str:
            value = _encode_str(item)
        elif kind is int:
            value = int.__repr__(item)
        elif item is None:
            value = "null"
        elif kind is bool:
            value = "true" if item else "false"
        elif kind is float and math.isfinite(item):
            value = float.__repr__(item)
        else:
            members[name] = canonical_members({name: item})[name]
            continue
        members[name] = (_encode_str(name) + ":" + value).encode("ascii")
    return members


def _prepare(record: Mapping[str, Any], max_record_bytes: int) -> dict[str, bytes]:
    """The caller's record serialised now, so a bad record fails alone and never inside a batch.

    Values are never coerced with ``str()``: an unknown object's text could carry an unredacted
    secret, so anything that is not plain JSON data is refused.
    """
    if not isinstance(record, Mapping):
        raise AuditError("bad_record", "an audit record must be a mapping")
    clash = RESERVED_FIELDS.intersection(record)
    if clash:
        raise AuditError("reserved_field", f"audit record sets chain fields {sorted(clash)}")
    if not isinstance(record.get("event"), str):
        raise AuditError("bad_record", "an audit record needs a string 'event'")
    try:
        members = _members(record)
    except (TypeError, ValueError):
        raise AuditError("not_serializable", "the audit record is not plain JSON data") from None
    if sum(len(member) for member in members.values()) > max_record_bytes:
        raise AuditError("record_too_large", f"the audit record is larger than {max_record_bytes} bytes")
    return members


class AuditLog:
    """The hash-chained, durable, rotating JSON Lines log at ``path``.

    Args:
        path: the active log file; archives, head and lock file live next to it.
        key: HMAC key (see ``load_key``); ``None`` gives a plain SHA-256 chain that detects
            accidents but not an editor who recomputes it.
        max_bytes: rotate the active file once it reaches this size.
        fsync: ``"group"`` shares one fsync between concurrent appends; ``"always"`` gives each
            record its own write and fsync (slower, the same durability guarantee).
        lock_timeout_s: how long to wait for another process's lock before refusing.
        max_record_bytes: a larger record is refused rather than written.
        clock: the time source for ``ts`` (tests inject one).
    """

    def __init__(
        self,
        path: Path,
        *,
        key: bytes | None = None,
        max_bytes: int = 64 * 1024 * 1024,
        fsync: Literal["group", "always"] = "group",
        lock_timeout_s: float = 10.0,
        max_record_bytes: int = 32 * 1024 * 1024,
        max_batch: int = 1024,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if fsync not in ("group", "always"):
            raise ValueError("fsync must be 'group' or 'always'")
        self.path = path
        self._store = LogStore(
            path,
            key=key,
            max_bytes=max_bytes,
            lock_timeout_s=lock_timeout_s,
            clock=clock,
        )
        self._max_record_bytes = max_record_bytes
        self._max_batch = 1 if fsync == "always" else max(1, max_batch)
        self._pending: list[_Pending] = []
        self._in_flight = False
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._broken: AuditError | None = None
        # One dedicated thread for the batches: lighter per batch than anyio's shared worker pool,
        # and batches are serial anyway (one writer task).
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        """Create the folder, repair a torn tail left by a crash (with a recovery record), start the writer.

        Raises:
            AuditError: the log cannot be opened, is cut off, or does not verify at its tail.
        """
        await anyio.to_thread.run_sync(self._store.open)
        await anyio.to_thread.run_sync(self._store.commit, [])
        self._closing = False
        self._broken = None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="secure-mcp-audit")
        self._writer = asyncio.get_running_loop().create_task(self._run(), name="secure-mcp-audit-writer")

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
        """Append ``record`` (already redacted) and return its ``seq`` once it is durable.

        Args:
            inline: the caller knows the server is otherwise idle. When the writer is idle too and
                the lock is free at once, the record is written and fsynced right here, on the
                event-loop thread: one fdatasync (~0.2 ms) instead of two thread hand-offs around
                it. Anything else (a batch in flight, records queued, another process holding the
                lock) takes the group-commit path, so concurrent calls still share fsyncs.

        Raises:
            AuditError: the record is not durable; the action it describes must not happen.
        """
        if self._writer is None or self._closing:
            raise AuditError("not_open", "the audit log is not open")
        if self._broken is not None:
            raise AuditError(self._broken.reason, self._broken.message)
        fields = _prepare(record, self._max_record_bytes)
        if inline and not self._pending and not self._in_flight:
            try:
                done = self._store.try_commit([fields])
            except AuditError:
                raise
            except Exception:
                raise AuditError("internal", "the audit log failed unexpectedly") from None
            if done is not None:
                return done[0]
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((fields, future))
        self._wake.set()
        # Shielded: a caller that gives up still gets its record written; it just stops waiting.
        return await asyncio.shield(future)

    def append_sync(self, record: Mapping[str, Any]) -> int:
        """Append one record from synchronous code (CLI, start-up, shutdown); durable on return.

        Raises:
            AuditError: the record is not durable.
        """
        self._store.open()
        return self._store.commit([_prepare(record, self._max_record_bytes)])[0]

    async def close(self) -> None:
        """Write what is queued, stop the writer and release the files."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await asyncio.shield(self._writer)
            self._writer = None
        await anyio.to_thread.run_sync(self._store.close)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def _run(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._pending[: self._max_batch]
                del self._pending[: len(batch)]
                await self._commit(batch)
        except BaseException as exc:
            self._broken = AuditError("writer_failed", "the audit writer stopped; restart the server")
            for _, future in self._pending:
                if not future.done():
                    future.set_exception(AuditError(self._broken.reason, self._broken.message))
            self._pending.clear()
            if not isinstance(exc, Exception):
                raise

    async def _commit(self, batch: list[_Pending]) -> None:
        failure: AuditError | None = None
        seqs: list[int] = []
        loop = asyncio.get_running_loop()

        def on_durable(durable: list[int]) -> None:
            loop.call_soon_threadsafe(self._resolve, batch, durable)

        self._in_flight = True
        try:
            records = [fields for fields, _ in batch]
            seqs = await loop.run_in_executor(self._executor, self._store.commit, records, on_durable)
        except AuditError as exc:
            failure = exc
        except Exception:
            failure = AuditError("internal", "the audit log failed unexpectedly")
        finally:
            self._in_flight = False
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if failure is not None:
                future.set_exception(AuditError(failure.reason, failure.message))
            else:
                future.set_result(seqs[index])

    @staticmethod
    def _resolve(batch: list[_Pending], seqs: list[int]) -> None:
        for (_, future), seq in zip(batch, seqs, strict=True):
            if not future.done():
                future.set_result(seq)
