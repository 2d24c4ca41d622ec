"""What hostile code inside the sandbox can and cannot do (needs Docker and the image)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_mcp.sandbox import Sandbox, SandboxRequest

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


@pytest.fixture
def canary() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on the host's loopback that records every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            seen.append(addr)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(2)
    server.close()


async def _py(box: Sandbox, code: str, **kwargs: object) -> tuple[int | None, str, str]:
    result = await box.run(SandboxRequest("python", code, **kwargs))  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


async def test_code_cannot_reach_loopback_or_the_host_fixture_port(
    sandbox: Sandbox, canary: tuple[int, list[object]]
) -> None:
    """With network_mode none, connecting to 127.0.0.1 (the canary's port) fails and the canary sees nothing."""
    port, seen = canary
    code = f"""
import socket
for host in ("127.0.0.1", "localhost"):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, {port})); print("CONNECTED", host)
    except OSError as exc:
        print("refused", host, type(exc).__name__)
print(open("/proc/net/dev").read())
"""
    exit_code, stdout, _ = await _py(sandbox, code)
    assert exit_code == 0
    assert "CONNECTED" not in stdout
    interfaces = {line.split(":")[0].strip() for line in stdout.splitlines() if ":" in line}
    assert interfaces == {"lo"}
    assert seen == []


async def test_code_sees_no_docker_socket_and_no_host_processes(sandbox: Sandbox) -> None:
    """Only the container's own processes are visible, and no Docker socket exists inside."""
    code = """
import os
print(any(os.path.exists(p) for p in ("/var/run/docker.sock", "/run/docker.sock")))
print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""
    exit_code, stdout, _ = await _py(sandbox, code)
    socket_seen, pids = stdout.splitlines()
    assert exit_code == 0 and socket_seen == "False"
    assert len(eval(pids)) <= 3  # noqa: S307 - parsing our own printed list of ints: init, runner


async def test_code_runs_unprivileged_with_no_capabilities(sandbox: Sandbox) -> None:
    """Not root, empty effective and bounding capability sets, no-new-privileges set."""
    code = """
import os
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(os.getuid(), os.geteuid(), status["CapEff"].strip(), status["CapBnd"].strip(), status["NoNewPrivs"].strip())
"""
    exit_code, stdout, _ = await _py(sandbox, code)
    uid, euid, cap_eff, cap_bnd, nnp = stdout.split()
    assert exit_code == 0
    assert uid != "0" and euid != "0"
    assert int(cap_eff, 16) == 0 and int(cap_bnd, 16) == 0
    assert nnp == "1"


async def test_root_filesystem_is_read_only_and_tmp_is_noexec(sandbox: Sandbox) -> None:
    """Writing to / or /usr fails; a file written to /tmp cannot be executed."""
    code = """
import os, subprocess
for path in ("/x", "/usr/x", "/opt/secure-mcp/runner.py"):
    try:
        open(path, "a").write("x"); print("WROTE", path)
    except OSError:
        pass
open("/tmp/s.sh", "w").write("#!/bin/sh\\necho EXECUTED\\n"); os.chmod("/tmp/s.sh", 0o755)
try:
    print(subprocess.run(["/tmp/s.sh"], capture_output=True, text=True).stdout)
except OSError:
    print("noexec")
"""
    exit_code, stdout, _ = await _py(sandbox, code)
    assert exit_code == 0
    assert "WROTE" not in stdout and "EXECUTED" not in stdout and "noexec" in stdout


async def test_python_workspace_is_read_only_and_shell_workspace_is_writable(
    sandbox: Sandbox, workspace: Path
) -> None:
    """A read-only call cannot create a file; a read-write call writes its own layer, never the workspace."""
    ro = await sandbox.run(SandboxRequest("python", "open('/workspace/ro.txt', 'w').write('x')"))
    rw = await sandbox.run(SandboxRequest("shell", "echo hi > rw.txt", workspace_rw=True, approved=()))
    assert ro.exit_code == 1 and not (workspace / "ro.txt").exists()
    assert rw.exit_code == 0 and rw.layer is not None
    try:
        assert (rw.layer.upper / "rw.txt").read_text() == "hi\n"
        assert not (workspace / "rw.txt").exists()  # only the effects stage applies it, once judged
    finally:
        rw.layer.discard()


async def test_the_host_environment_does_not_reach_the_container(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret in the server's environment is absent inside."""
    monkeypatch.setenv("SECURE_MCP_TEST_SECRET", "sekrit-value-123")
    _, stdout, _ = await _py(sandbox, "import os; print(sorted(os.environ.items()))")
    assert "sekrit-value-123" not in stdout and "SECURE_MCP_TEST_SECRET" not in stdout


async def test_no_container_serves_two_calls(sandbox: Sandbox) -> None:
    """A file left in /tmp by one call is gone in the next: each call gets a fresh container."""
    first = await _py(sandbox, "open('/tmp/marker', 'w').write('1'); print('ok')")
    second = await _py(sandbox, "import os; print(os.path.exists('/tmp/marker'))")
    assert first[1] == "ok\n" and second[1] == "False\n"


async def test_stdin_is_empty_so_reading_it_does_not_hang(sandbox: Sandbox) -> None:
    """Code reading stdin gets end of input at once instead of waiting for the timeout."""
    result = await sandbox.run(SandboxRequest("python", "import sys; print(repr(sys.stdin.read()))", timeout_s=5))
    assert not result.timed_out and result.stdout == "''\n"


async def test_exit_codes_and_errors_are_reported_as_results(sandbox: Sandbox) -> None:
    """sys.exit codes pass through; an exception is exit 1 with the traceback on stderr."""
    assert (await _py(sandbox, "import sys; sys.exit(7)"))[0] == 7
    exit_code, _, stderr = await _py(sandbox, "1/0")
    assert exit_code == 1 and "ZeroDivisionError" in stderr
    shell = await sandbox.run(SandboxRequest("shell", "exit 4", workspace_rw=True, approved=()))
    assert shell.exit_code == 4
