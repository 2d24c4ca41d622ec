"""AuditLog: durability on return, group commit, failure handling, rotation and crash recovery."""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from secure_mcp.audit import AuditError, AuditLog, verify_log

KEY = b"test-audit-key-0123456789abcdef"
FAKE_SECRET = "AKIAIOSFODNN7EXAMPLE"


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.anyio
async def test_append_returns_only_after_its_record_is_fsynced(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When append returns, an fdatasync has covered the file size that includes the record."""
    synced_sizes: list[int] = []
    real = os.fdatasync

    def spy(fd: int) -> None:
        real(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fdatasync", spy)
    log = AuditLog(log_path, key=KEY)
    await log.open()
    seq = await log.append({"event": "call_received", "call_id": "c1"})
    size_on_return = log_path.stat().st_size
    await log.close()
    assert seq == 1
    assert size_on_return in synced_sizes
    assert _records(log_path)[0]["call_id"] == "c1"


@pytest.mark.anyio
async def test_1000_records_from_50_concurrent_tasks_form_one_chain(log_path: Path) -> None:
    """Concurrent appends get distinct seq numbers 1..1000 and the chain verifies."""
    log = AuditLog(log_path, key=KEY)
    await log.open()
    seqs: list[int] = []

    async def worker(task: int) -> None:
        for index in range(20):
            seqs.append(await log.append({"event": "note", "task": task, "n": index}))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for task in range(50):
                group.start_soon(worker, task)
    await log.close()
    assert sorted(seqs) == list(range(1, 1001))
    report = verify_log(log_path, KEY)
    assert (report.ok, report.records) == (True, 1000)


@pytest.mark.anyio
async def test_group_commit_shares_fsyncs_between_concurrent_appends(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 concurrent appends need far fewer log fsyncs than records; 'always' needs one each."""
    calls: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    for mode, path in (("group", log_path), ("always", log_path.with_name("always.jsonl"))):
        calls.clear()
        log = AuditLog(path, key=KEY, fsync=mode)  # type: ignore[arg-type]
        await log.open()
        async with anyio.create_task_group() as group:
            for task in range(50):
                group.start_soon(log.append, {"event": "note", "task": task})
        await log.close()
        if mode == "group":
            assert len(calls) <= 10
        else:
            assert len(calls) >= 50


@pytest.mark.anyio
async def test_disk_full_refuses_the_record_and_leaves_no_partial_line(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC mid-write raises AuditError, the partial bytes are removed, and the log recovers after."""
    log = AuditLog(log_path, key=KEY)
    await log.open()
    await log.append({"event": "note", "n": 1})
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if b'"lost"' not in data:  # the head file of the previous batch may still be being written
            return real_write(fd, data)
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(AuditError) as caught:
        await log.append({"event": "call_received", "call_id": "lost"})
    assert caught.value.reason == "write_failed"
    assert log_path.read_bytes().endswith(b"\n")
    monkeypatch.setattr(os, "write", real_write)
    assert await log.append({"event": "note", "n": 2}) == 2
    await log.close()
    assert "lost" not in log_path.read_text()
    assert verify_log(log_path, KEY).ok


@pytest.mark.anyio
async def test_a_failed_fsync_poisons_the_log(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After fsync fails, the kernel may have dropped the data: every later append is refused too."""
    log = AuditLog(log_path, key=KEY)
    await log.open()

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(AuditError) as first:
        await log.append({"event": "note"})
    monkeypatch.undo()
    with pytest.raises(AuditError) as second:
        await log.append({"event": "note"})
    await log.close()
    assert (first.value.reason, second.value.reason) == ("fsync_failed", "log_failed")


@pytest.mark.anyio
async def test_an_unwritable_folder_refuses_at_open(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied when creating the log files is an AuditError, never a silent pass."""
    real_open = os.open

    def denied(path: object, flags: int, mode: int = 0o777) -> int:
        if str(path).startswith(str(log_path.parent)):
            raise OSError(errno.EACCES, "Permission denied")
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    log = AuditLog(log_path, key=KEY)
    with pytest.raises(AuditError):
        await log.open()


@pytest.mark.anyio
async def test_a_vanished_log_file_refuses_appends(log_path: Path) -> None:
    """Deleting the log under a running server makes appends fail instead of starting a new chain."""
    log = AuditLog(log_path, key=KEY)
    await log.open()
    await log.append({"event": "note"})
    log_path.unlink()
    with pytest.raises(AuditError) as caught:
        await log.append({"event": "note"})
    await log.close()
    assert caught.value.reason == "log_truncated"


@pytest.mark.anyio
async def test_bad_records_fail_alone(log_path: Path) -> None:
    """A record with chain fields, NaN or a non-JSON object is refused; concurrent good ones are written."""
    log = AuditLog(log_path, key=KEY)
    await log.open()

    class Secretive:
        def __repr__(self) -> str:
            return FAKE_SECRET

    reasons = []
    for bad in ({"event": "x", "seq": 5}, {"event": "x", "v": math.nan}, {"event": "x", "v": Secretive()}, {"n": 1}):
        with pytest.raises(AuditError) as caught:
            await log.append(bad)
        reasons.append(caught.value.reason)
        assert FAKE_SECRET not in caught.value.message
    assert await log.append({"event": "good"}) == 1
    await log.close()
    assert reasons == ["reserved_field", "not_serializable", "not_serializable", "bad_record"]
    assert FAKE_SECRET not in log_path.read_text()


@pytest.mark.anyio
async def test_rotation_continues_the_chain_across_files(log_path: Path) -> None:
    """With a small max_bytes the log rotates to numbered files and the chain still verifies."""
    log = AuditLog(log_path, key=KEY, max_bytes=4096)
    await log.open()
    for index in range(100):
        await log.append({"event": "note", "n": index})
    await log.close()
    report = verify_log(log_path, KEY)
    assert report.ok and report.records == 100 and report.files > 3


@pytest.mark.anyio
async def test_a_torn_tail_is_cut_and_recorded_without_its_bytes(fill: Callable[..., Path]) -> None:
    """A crash's partial last line is truncated at open; a recovery record names its size and hash only."""
    path = fill(5)
    torn = ('{"event":"call_received","arguments":{"token":"' + FAKE_SECRET).encode()
    with path.open("ab") as handle:
        handle.write(torn)
    torn_report = verify_log(path, KEY)
    assert torn_report.ok and len(torn_report.recovered) == 1
    log = AuditLog(path, key=KEY)
    await log.open()
    await log.append({"event": "server_start"})
    await log.close()
    records = _records(path)
    assert [r["event"] for r in records[-2:]] == ["recovery", "server_start"]
    assert records[-2]["lost_bytes"] == len(torn)
    assert FAKE_SECRET not in path.read_text()
    report = verify_log(path, KEY)
    assert report.ok and report.records == 7 and any("recovery" in note for note in report.recovered)


@pytest.mark.anyio
async def test_a_server_with_another_key_refuses_to_continue_the_chain(fill: Callable[..., Path]) -> None:
    """Opening a log whose last record does not verify with this key fails instead of forking the chain."""
    path = fill(3)
    log = AuditLog(path, key=b"a-different-key-of-length-32-b")
    with pytest.raises(AuditError) as caught:
        await log.open()
    assert caught.value.reason == "chain_mismatch"


@pytest.mark.anyio
async def test_records_carry_chain_fields_and_never_the_key(log_path: Path) -> None:
    """Each line has seq, a millisecond UTC ts, prev and an HMAC; the key appears in no file."""
    log = AuditLog(log_path, key=KEY)
    await log.open()
    await log.append({"event": "call_received", "arguments": {"password": "[REDACTED:password]"}})
    await log.append({"event": "executed"})
    await log.close()
    first, second = _records(log_path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(first["ts"]))
    assert (first["seq"], first["prev"], second["prev"]) == (1, None, first["hash"])
    assert str(first["hash"]).startswith("hmac-sha256:")
    assert first["arguments"] == {"password": "[REDACTED:password]"}
    for file in log_path.parent.iterdir():
        assert KEY not in file.read_bytes()


def test_append_sync_writes_a_durable_record(log_path: Path) -> None:
    """The synchronous form (server start/stop, CLI) continues the same chain."""
    log = AuditLog(log_path, key=KEY)
    assert log.append_sync({"event": "server_start", "pid": 1}) == 1
    assert log.append_sync({"event": "server_stop"}) == 2
    assert verify_log(log_path, KEY).ok
