"""run_command through an MCP client: a program the policy did not approve is stopped by the sandbox.

Whatever the policy made of the command (allowed, or confirmed by an accepting client), the
sandbox only lets the approved programs start. The refusal reads as SPEC's "Added for 0.2" fixes it
and lands in the audit log with the program and its argv, redacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from secure_mcp.config import Config
from secure_mcp.sandbox import Sandbox
from secure_mcp.testing import MemoryAuditSink
from tests.support import docker_config, reply, runtime, started_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
SECRET = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return docker_config(tmp_path)


@pytest.fixture
async def sandbox(config: Config) -> AsyncIterator[Sandbox]:
    async with started_sandbox(config, "e2e") as box:
        yield box


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_python_starting_rm_is_blocked_by_the_sandbox_and_audited(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """python3 is allowed; the shell and rm it would start are not: the canary survives."""
    canary = config.workspace_root / "canary"
    canary.write_text("alive")
    canary.chmod(0o666)
    code = f"import os; os.system('rm -v canary {SECRET}')"
    sink = MemoryAuditSink()
    seen: list[str] = []
    async with runtime(config, sandbox=sandbox, sink=sink) as rt:
        accept = reply("accept", {"approve": True}, seen)
        async with Client(rt.server, mode=mode, elicitation_callback=accept) as client:
            result = await client.call_tool("run_command", {"command": f'echo "{code}" | python3 /dev/stdin'})
    text: str = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error
    # sh is on the bundled allow list (make's recipes need it), so os.system's shell starts; the rm it
    # then starts is neither in the command's approved set nor on the allow list.
    assert text.startswith("blocked by sandbox: /usr/bin/rm was started but not approved (argv: ")
    assert '"rm", "-v", "canary", "[REDACTED:' in text and SECRET not in text
    assert canary.read_text() == "alive"
    refused: list[dict[str, Any]] = sink.events("refused")
    assert [(r["stage"], r["reason"]) for r in refused] == [("sandbox", "exec_blocked")]
    assert "/usr/bin/rm" in refused[0]["message"] and '"rm", "-v", "canary"' in refused[0]["message"]
    assert SECRET not in str(sink.records)
    assert sink.events("executed") == []


async def test_an_allowed_command_still_runs(config: Config, sandbox: Sandbox) -> None:
    """The bundled allow list is approved: a pipeline of allowed programs runs as before."""
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server) as client:
            result = await client.call_tool("run_command", {"command": "echo hello | wc -c; ls -d ."})
    assert not result.is_error, result.content
    assert (result.structured_content or {})["stdout"] == "6\n.\n"
