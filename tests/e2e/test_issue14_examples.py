"""Issue 14 end to end: every example and the whole bypass table through the MCP client, declining.

A real sandbox stands behind the server, so a command wrongly let through would really run: the
canary file in the workspace must survive, nothing may execute (``mount`` never runs), and the
question a person sees lists every program's verdict first, never cut by padding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from secure_mcp.config import Config
from secure_mcp.sandbox import Sandbox
from secure_mcp.testing import MemoryAuditSink
from tests.command_policy.test_bypasses import BYPASSES
from tests.command_policy.test_issue14 import ISSUE_EXAMPLES
from tests.support import docker_config, reply, runtime, started_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
ERAS = ["auto", "legacy"]
# Examples bash runs as echo with a redirect: allowed, and they start no program (echo is a builtin),
# so the sandbox's tracer lets nothing but bash start (tests/command_policy/test_issue14.py checks
# that set). The sandbox runs them with bash, the grammar the policy read: they run, and start nothing.
RUN_AS_BASH_READS_THEM = {c for c, decision, _ in ISSUE_EXAMPLES if decision == "allow"}
REFUSED = [c for c, _, _ in ISSUE_EXAMPLES if c not in RUN_AS_BASH_READS_THEM] + [c for _, c, _ in BYPASSES]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    limits = {"calls_per_minute": 100_000, "burst": 10_000}  # the tables are hundreds of calls
    cfg = docker_config(tmp_path, {"limits": limits})
    victim = cfg.workspace_root / "victim"
    victim.write_text("alive")
    victim.chmod(0o666)
    return cfg


@pytest.fixture
async def sandbox(config: Config) -> AsyncIterator[Sandbox]:
    async with started_sandbox(config, "e2e14") as box:
        yield box


@pytest.mark.parametrize("mode", ERAS)
async def test_every_example_and_bypass_is_refused_and_nothing_runs(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """With a declining client, each example and bypass ends in a refusal; the canary survives."""
    sink = MemoryAuditSink()
    outcomes: dict[str, str] = {}
    async with runtime(config, sandbox=sandbox, sink=sink) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("decline")) as c:
            for command in REFUSED:
                result = await c.call_tool("run_command", {"command": command})
                outcomes[command] = result.content[0].text if result.is_error else "RAN"  # type: ignore[union-attr]
    ran = [c for c, text in outcomes.items() if not text.startswith(("blocked by validate: ", "blocked by confirm: "))]
    assert not ran, [(c, outcomes[c][:120]) for c in ran]
    assert len(outcomes) >= 150
    assert sink.events("executed") == []
    assert (config.workspace_root / "victim").read_text() == "alive"


@pytest.mark.parametrize("mode", ERAS)
async def test_examples_bash_reads_as_harmless_run_and_start_nothing(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """``echo &>/tmp/o rm -v victim`` is echo with a redirect under bash, which now runs it: it runs
    unasked, rm and mount never start (the victim survives), and no question is asked."""
    sink = MemoryAuditSink()
    seen: list[str] = []
    async with runtime(config, sandbox=sandbox, sink=sink) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("decline", None, seen)) as c:
            for command in sorted(RUN_AS_BASH_READS_THEM):
                result = await c.call_tool("run_command", {"command": command})
                assert not result.is_error, (command, result.content)
    assert seen == []
    assert len(sink.events("executed")) == len(RUN_AS_BASH_READS_THEM)
    assert (config.workspace_root / "victim").read_text() == "alive"


@pytest.mark.parametrize("mode", ERAS)
async def test_question_lists_verdicts_first_and_never_loses_them_to_padding(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """8 KB of padding before rm: the question still starts with every verdict and rm's config line,
    and the command is shown as head and tail with the number of characters left out."""
    seen: list[str] = []
    command = "echo " + "x" * 9000 + "; rm -v victim"
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("decline", None, seen)) as c:
            result = await c.call_tool("run_command", {"command": command})
    assert result.is_error and (config.workspace_root / "victim").read_text() == "alive"
    question = seen[0]
    verdicts, _, action = question.partition("--- exact action ---")
    assert "rm: confirm (in confirm list)" in verdicts
    assert 'move "rm" from confirm to allow in [tools.run_command]' in verdicts
    assert "the sandbox lets start: rm" in verdicts
    kept_head, note, kept_tail = action.partition("characters left out")
    assert note and "rm -v victim" in kept_tail and "echo xx" in kept_head
    assert len(question) < 8500


@pytest.mark.parametrize("mode", ERAS)
async def test_client_that_cannot_confirm_is_told_the_config_line_for_each_program(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    """Without elicitation the refusal names every program needing a yes and the line that allows it."""
    async with runtime(config, sandbox=sandbox) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("run_command", {"command": "rm victim; git commit -m x; python3 -c 'x'"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and text.startswith("blocked by confirm: this client cannot ask for confirmation")
    assert 'move "rm" from confirm to allow in [tools.run_command]' in text
    assert 'add "git commit" to allow in [tools.run_command]' in text
    assert "python3 <inline code>: inline code for python3 cannot be judged; no config line allows this" in text
    assert (config.workspace_root / "victim").read_text() == "alive"
