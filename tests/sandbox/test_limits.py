"""Hostile workloads end with a result, the sandbox keeps answering, and containers are cleaned up."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import docker
import pytest

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox import Sandbox, SandboxRequest
from secure_mcp.sandbox.flags import container_kwargs
from secure_mcp.sandbox.owner import current_owner

from .conftest import instance_containers

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


async def _still_answers(box: Sandbox) -> None:
    result = await box.run(SandboxRequest("python", "print('alive')", timeout_s=10))
    assert result.exit_code == 0 and result.stdout == "alive\n"


async def _wait_for_pool(box: Sandbox, expected: int) -> int:
    with anyio.move_on_after(15):
        while len(instance_containers(box.instance_id)) != expected:
            await anyio.sleep(0.1)
    return len(instance_containers(box.instance_id))


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def test_a_fork_bomb_hits_the_pids_limit_and_ends_at_the_timeout(sandbox: Sandbox) -> None:
    """A shell fork bomb is contained by pids_limit and killed at its timeout."""
    with anyio.fail_after(30):
        result = await sandbox.run(
            SandboxRequest(
                "shell", "bomb() { bomb | bomb & }; bomb; sleep 60", workspace_rw=True, timeout_s=3, approved=("sleep",)
            )
        )
    assert result.timed_out or result.exit_code is not None
    await _still_answers(sandbox)


async def test_a_1gib_allocation_is_stopped_by_the_memory_limit(sandbox: Sandbox) -> None:
    """Touching 1 GiB under a 256 MiB limit (no swap) ends the process, not the host."""
    with anyio.fail_after(30):
        result = await sandbox.run(SandboxRequest("python", "b = b'x' * (1 << 30)\nprint('ALLOCATED')", timeout_s=20))
    assert "ALLOCATED" not in result.stdout
    assert result.exit_code not in (0, None) or result.timed_out
    await _still_answers(sandbox)


async def test_an_infinite_loop_is_killed_at_the_timeout_with_the_output_so_far(sandbox: Sandbox) -> None:
    """timeout_s=2 returns after about two seconds with timed_out and what was printed before."""
    started = time.monotonic()
    with anyio.fail_after(20):
        result = await sandbox.run(
            SandboxRequest("python", "print('before', flush=True)\nwhile True: pass", timeout_s=2)
        )
    assert result.timed_out and result.exit_code is None
    assert result.stdout == "before\n"
    assert time.monotonic() - started < 8
    await _still_answers(sandbox)


async def test_a_200mb_print_is_truncated_at_the_cap_without_growing_server_memory(sandbox: Sandbox) -> None:
    """Output past max_output_bytes is dropped, the container killed, and the server's peak memory stays flat."""
    before = _vm_hwm_kib()
    code = "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(200): sys.stdout.write(chunk)"
    with anyio.fail_after(30):
        result = await sandbox.run(SandboxRequest("python", code, max_output_bytes=1024 * 1024))
    assert result.truncated and not result.timed_out and result.exit_code is None
    assert len(result.stdout.encode()) + len(result.stderr.encode()) <= 1024 * 1024
    assert _vm_hwm_kib() - before < 64 * 1024
    await _still_answers(sandbox)


async def test_filling_tmp_fails_inside_and_leaves_nothing_for_the_next_call(sandbox: Sandbox) -> None:
    """Writing past the tmpfs size or fsize limit fails with an error; the next call has an empty /tmp."""
    code = """
chunk = b"0" * (1 << 20)
with open("/tmp/fill", "wb") as f:
    for _ in range(1024):
        f.write(chunk)
"""
    with anyio.fail_after(30):
        result = await sandbox.run(SandboxRequest("python", code, timeout_s=20))
    assert result.exit_code == 1 and not result.timed_out
    after = await sandbox.run(SandboxRequest("python", "import os; print(os.listdir('/tmp'))"))
    assert after.stdout == "[]\n"


async def test_container_count_returns_to_the_pool_size(sandbox: Sandbox) -> None:
    """After several calls, only the refilled pool (one per mount mode) remains."""
    for _ in range(3):
        await _still_answers(sandbox)
    await sandbox.run(SandboxRequest("shell", "true", workspace_rw=True, approved=()))
    assert await _wait_for_pool(sandbox, 2) == 2


async def test_a_cancelled_call_kills_its_container(make_sandbox: Callable[..., Sandbox]) -> None:
    """When the client cancels, the container stops at once; no running container is left behind."""
    box = make_sandbox(warm_pool=0)
    await box.start()
    try:
        with anyio.move_on_after(2) as scope:
            await box.run(SandboxRequest("python", "while True: pass", timeout_s=30))
        assert scope.cancelled_caught
        assert instance_containers(box.instance_id, running_only=True) == []
    finally:
        await box.close()
    assert instance_containers(box.instance_id) == []


async def test_a_call_waiting_for_a_slot_longer_than_its_timeout_is_refused(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """With max_concurrent=1, a second call gives up with reason busy instead of waiting forever."""
    box = make_sandbox(warm_pool=0, max_concurrent=1)
    await box.start()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(box.run, SandboxRequest("python", "import time; time.sleep(4)", timeout_s=6))
            await anyio.sleep(0.5)
            with pytest.raises(SandboxError) as caught:
                await box.run(SandboxRequest("python", "print(1)", timeout_s=1))
            assert caught.value.reason == "busy"
    finally:
        await box.close()


async def test_progress_is_reported_about_once_a_second(sandbox: Sandbox) -> None:
    """A 3-second call reports elapsed time and growing output, never more than once a second."""
    reports: list[tuple[float, int]] = []

    async def progress(elapsed: float, output: int) -> None:
        reports.append((elapsed, output))

    code = "import time\nfor i in range(6):\n    print(i, flush=True); time.sleep(0.5)"
    result = await sandbox.run(SandboxRequest("python", code), progress)
    assert result.exit_code == 0
    assert 1 <= len(reports) <= 4
    assert all(b[0] - a[0] >= 0.9 for a, b in zip(reports, reports[1:], strict=False))


async def test_start_removes_orphans_of_dead_servers_but_not_of_live_ones(
    make_sandbox: Callable[..., Sandbox], workspace: Path
) -> None:
    """Containers whose owner process is gone are removed on start; a live owner's container stays."""
    box = make_sandbox(warm_pool=0)
    host, boot, _pid, _start = current_owner().split(":")
    client = docker.from_env(timeout=10)
    created = []
    for owner in (f"{host}:{boot}:{2**22 + 11}:1", current_owner()):
        kwargs = container_kwargs(
            box.settings, workspace=workspace, workspace_rw=False, instance_id="orphan-test", owner=owner
        )
        created.append(client.containers.create(**kwargs).id)
    try:
        await box.start()
        left = {c["Id"] for c in instance_containers("orphan-test")}
        assert created[0] not in left and created[1] in left
    finally:
        for container_id in created:
            try:
                client.api.remove_container(container_id, force=True)
            except docker.errors.NotFound:
                pass
        await box.close()


async def test_a_missing_image_is_refused_with_the_fix(make_sandbox: Callable[..., Sandbox]) -> None:
    """An image that does not exist gives image_missing; nothing runs."""
    box = make_sandbox(image="secure-mcp-sandbox:no-such-tag", warm_pool=0)
    await box.start()
    try:
        with pytest.raises(SandboxError) as caught:
            await box.run(SandboxRequest("python", "print(1)"))
        assert caught.value.reason == "image_missing"
    finally:
        await box.close()


async def test_doctor_reports_engine_and_image(sandbox: Sandbox) -> None:
    """The doctor checks pass for a working engine and a current image."""
    checks = {check.name: check for check in sandbox.check()}
    assert checks["docker"].ok and checks["image"].ok and checks["workspace"].ok
