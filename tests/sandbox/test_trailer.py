"""The runner's end-of-stream trailer: results without waiting for teardown, and never forged output."""

from __future__ import annotations

import time

import anyio
import pytest

from secure_mcp.sandbox import Sandbox, SandboxRequest
from secure_mcp.sandbox.io import _Trailer
from tests.sandbox.conftest import instance_containers

NONCE = "0123456789abcdef0123456789abcdef"
MARK = b"\0secure-mcp-end:" + NONCE.encode() + b":"


@pytest.mark.parametrize("cut", [1, 5, 17, len(MARK), len(MARK) + 2])
def test_a_trailer_split_anywhere_across_frames_is_found_and_never_shown(cut: int) -> None:
    """However the frames fall, the output is exactly what the code printed and the status is read."""
    stream = b"hello\n" + MARK + b"42\0"
    trailer = _Trailer(NONCE)
    shown = trailer.feed(stream[:cut]) + trailer.feed(stream[cut:])
    assert shown == b"hello\n" and trailer.status == 42


def test_a_trailer_with_another_nonce_or_no_number_is_ordinary_output() -> None:
    """Only the server's nonce ends a stream; look-alikes are output like any other bytes."""
    trailer = _Trailer(NONCE)
    forged = b"x\0secure-mcp-end:" + b"f" * 32 + b":0\0" + MARK + b"zz\0y"
    shown = trailer.feed(forged) + trailer.flush()
    assert shown == forged and trailer.status is None


def test_bytes_after_the_trailer_are_dropped() -> None:
    """What background leftovers print after the code finished is not part of the result."""
    trailer = _Trailer(NONCE)
    assert trailer.feed(b"done" + MARK + b"0\0late") == b"done"
    assert trailer.feed(b"later still") == b"" and trailer.status == 0


@pytest.mark.docker
@pytest.mark.anyio
async def test_a_background_process_does_not_hold_the_call_open_and_is_killed(sandbox: Sandbox) -> None:
    """`sleep 300 &` used to keep the stream open until the timeout; now the call ends with the shell."""
    started = time.monotonic()
    result = await sandbox.run(
        SandboxRequest(kind="shell", source="echo hi; sleep 300 & echo bg", workspace_rw=True, approved=("sleep",))
    )
    assert result.exit_code == 0 and result.stdout == "hi\nbg\n" and not result.timed_out
    assert time.monotonic() - started < 10
    with anyio.fail_after(20):
        while len(instance_containers(sandbox.instance_id)) > 2 * sandbox.settings.warm_pool:
            await anyio.sleep(0.2)


@pytest.mark.docker
@pytest.mark.anyio
async def test_exit_status_and_late_thread_output_match_python3_c(sandbox: Sandbox) -> None:
    """sys.exit codes and the output of non-daemon threads are what `python3 -c` would give."""
    code = (
        "import sys, threading, time\n"
        "def late():\n    time.sleep(0.3); print('from thread', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "sys.exit(7)\n"
    )
    result = await sandbox.run(SandboxRequest(kind="python", source=code))
    assert result.exit_code == 7 and result.stdout == "from thread\n"
    shell = await sandbox.run(
        SandboxRequest(kind="shell", source="echo out; echo err >&2; exit 3", workspace_rw=True, approved=())
    )
    assert (shell.exit_code, shell.stdout, shell.stderr) == (3, "out\n", "err\n")
