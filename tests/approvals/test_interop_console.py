"""The official TypeScript SDK clients, declaring no elicitation, get a yes from the console (issue 16).

Both client lines (SDK 1.x on 2025-11-25, client 2.x on 2026-07-28) over stdio call write_file
mode=overwrite; the call waits in the console; ``secure-mcp approvals approve|deny`` decides it.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.approvals.browser import cli, console_url, write_config
from tests.http.servers import serve_command
from tests.interop.test_typescript_client import SDKS, Run, Sdk, run_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def decide_when_pending(config: Path, verb: str) -> None:
    await console_url(config.parent)
    with anyio.fail_after(30):
        while True:
            listed = await anyio.to_thread.run_sync(cli, config, "list")
            if listed.stdout.strip():
                break
            await anyio.sleep(0.1)
    decision_id = listed.stdout.split()[0]
    done = await anyio.to_thread.run_sync(cli, config, verb, decision_id)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("verb", ["approve", "deny"])
async def test_typescript_client_without_elicitation_is_decided_in_the_console(
    tmp_path: Path, sdk: Sdk, verb: str
) -> None:
    config = write_config(tmp_path)
    target = tmp_path / "workspace" / "existing.txt"
    target.write_text("old content\n")
    runs: list[Run] = []

    def call() -> None:
        args = {"path": "existing.txt", "content": "new content\n", "mode": "overwrite"}
        server = ("--", *serve_command(config))
        runs.append(
            run_client(sdk, "--elicit", "none", "--transport", "stdio", *server, tool="write_file", tool_args=args)
        )

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, call)
        await decide_when_pending(config, verb)
    [run] = runs
    assert run.out["elicitations"] == []
    if verb == "approve":
        assert run.code == 0, run.out
        assert target.read_text() == "new content\n"
    else:
        assert run.code == 2 and run.out["result"]["text"] == "blocked by confirm: the approver answered no"
        assert target.read_text() == "old content\n"
