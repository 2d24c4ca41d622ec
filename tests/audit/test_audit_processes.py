"""Two server processes sharing one log, and a writer killed with SIGKILL mid-load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from secure_mcp.audit import AuditLog, verify_log

pytestmark = pytest.mark.process
KEY = b"test-audit-key-0123456789abcdef"
_WRITER = """
import asyncio, sys
from pathlib import Path
from secure_mcp.audit import AuditLog

async def main(path, count, name):
    log = AuditLog(Path(path), key=sys.argv[4].encode(), max_bytes=int(sys.argv[5]))
    await log.open()
    async def worker(task):
        for index in range(count // 10):
            await log.append({"event": "note", "writer": name, "task": task, "n": index})
    await asyncio.gather(*(worker(task) for task in range(10)))
    await log.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


def _spawn(path: Path, count: int, name: str, max_bytes: int = 64 * 1024 * 1024) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(count), name, KEY.decode(), str(max_bytes)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.parametrize("max_bytes", [64 * 1024 * 1024, 16 * 1024])
def test_two_processes_sharing_one_log_never_fork_the_chain(log_path: Path, max_bytes: int) -> None:
    """500 records from each of two processes (also while rotating) form one verifiable chain of 1000."""
    log_path.parent.mkdir(parents=True)
    writers = [_spawn(log_path, 500, name, max_bytes) for name in ("a", "b")]
    try:
        for writer in writers:
            _, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err.decode()
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    report = verify_log(log_path, KEY)
    assert (report.ok, report.records) == (True, 1000), report


@pytest.mark.slow
@pytest.mark.anyio
async def test_kill_9_during_load_then_restart_verifies(log_path: Path) -> None:
    """A writer SIGKILLed mid-load leaves a log that reopens (recovering any torn line) and verifies."""
    log_path.parent.mkdir(parents=True)
    writer = _spawn(log_path, 1_000_000, "victim")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not log_path.exists() or log_path.stat().st_size < 200_000):
            await anyio.sleep(0.01)
        assert log_path.stat().st_size >= 200_000
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=10)
    log = AuditLog(log_path, key=KEY)
    await log.open()
    await log.append({"event": "server_start"})
    await log.close()
    report = verify_log(log_path, KEY)
    assert report.ok, report
    assert report.records > 500
