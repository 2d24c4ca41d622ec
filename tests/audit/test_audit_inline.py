"""Inline commits (a lone call's records fsynced on the loop thread) keep every guarantee of the queue."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

import anyio
import pytest

from secure_mcp.audit import AuditLog, verify_log
from secure_mcp.audit.files import lock_path

pytestmark = pytest.mark.anyio
KEY = b"k" * 32


async def test_an_inline_append_is_durable_and_chained_like_a_queued_one(tmp_path: Path) -> None:
    """Inline and queued appends interleave into one intact chain with consecutive sequence numbers."""
    log = AuditLog(tmp_path / "a.jsonl", key=KEY)
    await log.open()
    seqs: list[int] = []
    for index in range(20):
        seqs.append(await log.append({"event": "inline", "n": index}, inline=True))

    async def queued(index: int) -> None:
        seqs.append(await log.append({"event": "queued", "n": index}))

    async def inline_busy(index: int) -> None:
        await log.append({"event": "inline-busy", "n": index}, inline=True)

    async with anyio.create_task_group() as group:
        for index in range(30):
            group.start_soon(queued, index)
        for index in range(30):
            group.start_soon(inline_busy, index)
    await log.close()
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert len(lines) == 80 and sorted(seqs) == seqs[:20] + sorted(seqs[20:])
    assert verify_log(tmp_path / "a.jsonl", KEY).ok


async def test_an_inline_append_never_waits_for_another_process_lock_on_the_event_loop(tmp_path: Path) -> None:
    """With the lock held elsewhere the record is queued; the loop keeps running until the lock frees."""
    log = AuditLog(tmp_path / "a.jsonl", key=KEY)
    await log.open()
    fd = os.open(lock_path(tmp_path / "a.jsonl"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ticks = 0
    done = anyio.Event()
    ticked = anyio.Event()
    # A safety net from another thread: had the append blocked the event loop, nothing on the loop
    # could release the lock; this does, after which the tick count shows the loop was stuck.
    unblock = threading.Timer(5, fcntl.flock, (fd, fcntl.LOCK_UN))
    unblock.start()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            if ticks == 10:
                ticked.set()
            await anyio.sleep(0)

    async def release_after_the_loop_ran() -> None:
        # No fixed wait: the lock is let go once the loop has demonstrably run ten times while the
        # append was pending.
        await ticked.wait()
        fcntl.flock(fd, fcntl.LOCK_UN)

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(ticker)
                group.start_soon(release_after_the_loop_ran)
                seq = await log.append({"event": "waited"}, inline=True)
                done.set()
    finally:
        unblock.cancel()
        os.close(fd)
        await log.close()
    assert seq >= 1
    assert ticks >= 10  # the event loop ran while the lock was held elsewhere
    assert verify_log(tmp_path / "a.jsonl", KEY).ok
