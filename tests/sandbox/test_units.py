"""Unit tests without Docker: stream capture, the runner's wire format, ownership, error mapping."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import docker.errors
import pytest
import requests.exceptions

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox import Sandbox, SandboxRequest, SandboxSettings
from secure_mcp.sandbox.engine import translate
from secure_mcp.sandbox.io import OutputCapture, encode_request
from secure_mcp.sandbox.owner import current_owner, is_orphan

RUNNER = Path(__file__).resolve().parents[2] / "secure_mcp" / "sandbox" / "runner.py"


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


def _capture(data: bytes, cap: int) -> tuple[OutputCapture, bool]:
    left, right = socket.socketpair()

    def write() -> None:
        try:
            left.sendall(data)
        except OSError:
            pass  # the reader stopped at the cap and closed its end: expected
        finally:
            left.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    capture = OutputCapture(right, cap)
    ended = capture.pump()
    right.close()
    writer.join(5)
    return capture, ended


def test_capture_keeps_stdout_and_stderr_apart() -> None:
    """Frames are demultiplexed by stream type, in order, and the stream end is reported."""
    capture, ended = _capture(_frame(1, b"out1 ") + _frame(2, b"err") + _frame(1, b"out2"), 1024)
    assert ended and not capture.truncated
    assert capture.snapshot() == (b"out1 out2", b"err")


def test_capture_stops_at_the_combined_cap_without_storing_more() -> None:
    """A frame far larger than the cap is cut at the cap: the rest is never stored."""
    big = _frame(1, b"x" * (8 * 1024 * 1024))
    capture, ended = _capture(_frame(2, b"e" * 100) + big, 1000)
    stdout, stderr = capture.snapshot()
    assert not ended and capture.truncated
    assert len(stdout) + len(stderr) == 1000 and len(stderr) == 100
    assert capture.seen < 1000 + 2 * 64 * 1024


def _run_runner(payload: bytes) -> subprocess.CompletedProcess[bytes]:
    # Benign requests only: attack payloads run in the Docker tests, never on the host.
    return subprocess.run(
        [sys.executable, "-I", str(RUNNER)], input=payload, capture_output=True, timeout=30, check=False
    )


def test_runner_runs_one_framed_python_request_without_needing_eof() -> None:
    """The runner reads exactly the framed request; bytes after it are not run."""
    payload = encode_request("python", "import sys\nprint(6 * 7)\nsys.exit(3)", str(RUNNER.parent))
    done = _run_runner(payload + encode_request("python", "print('second')", "/"))
    assert done.returncode == 3
    assert done.stdout == b"42\n"


def test_runner_reports_an_exception_like_the_interpreter() -> None:
    """An exception in the code exits 1 with a traceback on stderr, not a runner crash."""
    done = _run_runner(encode_request("python", "raise KeyError('k')", "/"))
    assert done.returncode == 1
    assert b"KeyError" in done.stderr and b"runner.py" not in done.stderr


def test_runner_refuses_an_oversized_or_malformed_request() -> None:
    """A request it cannot read ends with 125 and runs nothing."""
    assert _run_runner(struct.pack(">I", 1 << 30)).returncode == 125
    assert _run_runner(struct.pack(">I", 2) + b"{}").returncode == 125
    assert _run_runner(b"").returncode == 0


def test_a_live_owner_is_not_an_orphan_and_a_dead_pid_is() -> None:
    """Containers of this live process are kept; those of a dead process on this host are orphans."""
    mine = current_owner()
    assert not is_orphan(mine, running=True)
    host, boot, _pid, _start = mine.split(":")
    assert is_orphan(f"{host}:{boot}:{2**22 + 7}:123", running=True)
    assert is_orphan(f"{host}:another-boot:{os.getpid()}:1", running=True)


def test_other_hosts_containers_are_left_alone_and_malformed_ones_only_when_stopped() -> None:
    """A container from another host cannot be judged here; a label we cannot read is removed only once stopped."""
    assert not is_orphan("elsewhere:boot:1:1", running=False)
    assert not is_orphan("garbage", running=True)
    assert is_orphan("garbage", running=False)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (docker.errors.ImageNotFound("no such image"), "image_missing"),
        (requests.exceptions.ConnectionError("refused"), "engine_unreachable"),
        (docker.errors.DockerException("Error while fetching server API version"), "engine_unreachable"),
        (docker.errors.APIError("500", explanation="unknown or invalid runtime name: runsc"), "runtime_missing"),
        (docker.errors.APIError("500", explanation="boom"), "engine_error"),
        (ValueError("surprise"), "engine_error"),
    ],
)
def test_engine_failures_map_to_stable_reasons(error: Exception, reason: str) -> None:
    """Every engine failure becomes a SandboxError with a stable reason code."""
    assert translate(error, "img").reason == reason


@pytest.mark.anyio
async def test_unreachable_engine_refuses_the_call_and_start_does_not_raise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no engine, start() succeeds and run() raises engine_unreachable: nothing runs on the host."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    box = Sandbox(SandboxSettings(warm_pool=1), tmp_path, instance_id="unreachable")
    await box.start()
    try:
        with pytest.raises(SandboxError) as caught:
            await box.run(SandboxRequest("python", "print(1)"))
        assert caught.value.reason == "engine_unreachable"
    finally:
        await box.close()


@pytest.mark.anyio
@pytest.mark.parametrize("workdir", ["/", "/etc", "/workspace/../etc", "workspace", "/workspaces"])
async def test_a_workdir_outside_the_workspace_is_refused(workdir: str, tmp_path: Path) -> None:
    """The sandbox re-checks the working directory even though the caller validated it."""
    box = Sandbox(SandboxSettings(warm_pool=0), tmp_path, instance_id="workdir")
    with pytest.raises(SandboxError) as caught:
        await box.run(SandboxRequest("shell", "ls", workdir=workdir, approved=("ls",)))
    assert caught.value.reason == "invalid_request"
    await box.close()
