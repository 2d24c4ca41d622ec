"""The benign table through the real sandbox, under the bundled config.toml's run_command lists.

The policy test (tests/command_policy/test_benign_table.py) shows the commands are *judged* allow;
this one shows they also *run* under exec-time enforcement: the tracer does not stop a program the
agent's everyday commands need (git's helpers, make's shell, xargs' children, ...). A command may
exit non-zero (the workspace is small); what counts is that nobody was asked and nothing was blocked.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from secure_mcp.config import Config, load_config
from secure_mcp.sandbox import Sandbox
from secure_mcp.testing import MemoryAuditSink
from tests.command_policy.test_benign_table import benign_commands
from tests.support import docker_config, reply, runtime, started_sandbox

REPO = Path(__file__).resolve().parents[2]
MIN_SHARE = 0.95
pytestmark = [pytest.mark.anyio, pytest.mark.docker]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    bundled = load_config(REPO / "config.toml").tools.run_command
    lists = {"allow": list(bundled.allow), "confirm": list(bundled.confirm), "deny": list(bundled.deny)}
    cfg = docker_config(
        tmp_path,
        {
            "sandbox": {"warm_pool": 2},
            "limits": {"calls_per_minute": 100_000, "burst": 10_000},
            "tools": {"run_command": {**lists, "unknown": bundled.unknown}},
        },
    )
    root = cfg.workspace_root
    (root / "src").mkdir()
    (root / "tests").mkdir()
    (root / "README.md").write_text("# demo\n")
    (root / "src" / "main.py").write_text("def main():\n    print('hi')  # TODO\n")
    (root / "Makefile").write_text("all:\n\t@echo built\ntest:\n\t@echo tested && true\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)  # noqa: S603, S607 - a temp folder of ours
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    return cfg


@pytest.fixture
async def sandbox(config: Config) -> AsyncIterator[Sandbox]:
    async with started_sandbox(config, "benign") as box:
        yield box


async def test_benign_table_runs_unasked_and_unblocked_in_the_sandbox(config: Config, sandbox: Sandbox) -> None:
    commands = benign_commands()
    asked: list[str] = []
    outcomes: dict[str, str] = {}
    async with runtime(config, sandbox=sandbox, sink=MemoryAuditSink()) as rt:
        async with Client(rt.server, elicitation_callback=reply("decline", None, asked)) as client:
            for command in commands:
                result = await client.call_tool("run_command", {"command": command, "timeout_s": 20})
                text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
                outcomes[command] = text if result.is_error else "ran"
    refused = {c: t[:160] for c, t in outcomes.items() if t != "ran"}
    blocked = {c: t for c, t in refused.items() if t.startswith("blocked by sandbox")}
    share = (len(commands) - len(refused)) / len(commands)
    assert len(commands) >= 150
    assert share >= MIN_SHARE, f"{share:.1%} ran unasked; refused: {refused}"
    assert not blocked, f"the tracer stopped programs everyday commands need: {blocked}"
