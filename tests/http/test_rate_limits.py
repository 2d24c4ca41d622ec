"""Rate limits end to end: a real server trips at ``burst`` per token and says when to retry.

Recovery needs time to pass: it is checked in-process with an injected clock
(``test_a_tripped_principal_recovers_when_the_clock_refills_its_bucket``), never with a real wait.
Every loop here is bounded in count.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from secure_mcp.server import local_principal
from secure_mcp.stages.limits import LimitsGuard
from tests.http.servers import AGENT, WIDE, Served, http_server, sdk_client, serve_command, server_env, write_config
from tests.support import FakeClock, make_config, reply, runtime

pytestmark = pytest.mark.anyio
LIMITS = "[limits]\ncalls_per_minute = 60\nburst = 2\n"


def text(result: CallToolResult) -> str:
    return str(result.content[0].text)  # type: ignore[union-attr]


@pytest.fixture(params=["streamable-http", "sse"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    with http_server(write_config(tmp_path, tokens=(AGENT, WIDE), extra=LIMITS), request.param) as server:
        yield server


@pytest.mark.process
async def test_rate_limit_trips_per_token(served: Served) -> None:
    """Opening the session (initialize, the SSE connection) costs one token of the burst of 2."""
    async with sdk_client(served, AGENT.secret) as agent, sdk_client(served, WIDE.secret) as wide:
        first = [await agent.call_tool("write_file", {"path": f"a{i}.txt", "content": "x"}) for i in range(1)]
        tripped = await agent.call_tool("write_file", {"path": "a2.txt", "content": "x"})
        other = await wide.call_tool("write_file", {"path": "w0.txt", "content": "x"})
    assert not any(result.is_error for result in first)
    assert tripped.is_error
    assert text(tripped) == "blocked by limits: 'agent' is over 60 calls per minute (burst 2); retry in 1 s"
    assert not (served.workspace / "a2.txt").exists()
    assert not other.is_error  # another token's bucket is its own


async def test_a_tripped_principal_recovers_when_the_clock_refills_its_bucket(tmp_path: Path) -> None:
    """The whole server with the limits stage on a fake clock: refused at burst, served a second later."""
    clock = FakeClock()
    config = make_config(tmp_path, {"limits": {"calls_per_minute": 60, "burst": 2}})
    async with runtime(config, limits=LimitsGuard(config.limits, clock=clock)) as rt:
        async with Client(rt.server) as client:
            first = [await client.call_tool("write_file", {"path": f"a{i}.txt", "content": "x"}) for i in range(2)]
            tripped = await client.call_tool("write_file", {"path": "a2.txt", "content": "x"})
            clock.advance(0.5)
            still = await client.call_tool("write_file", {"path": "a3.txt", "content": "x"})
            clock.advance(0.5)
            recovered = await client.call_tool("write_file", {"path": "a4.txt", "content": "x"})
    assert not any(result.is_error for result in first)
    assert text(tripped).startswith("blocked by limits: ") and text(still).startswith("blocked by limits: ")
    assert not recovered.is_error, text(recovered)
    workspace = config.workspace_root
    assert not (workspace / "a2.txt").exists() and not (workspace / "a3.txt").exists()
    assert (workspace / "a4.txt").read_text() == "x"


@pytest.mark.process
async def test_a_confirmed_call_costs_one_token_in_the_2026_era(tmp_path: Path) -> None:
    """The 2026-07-28 retry that carries the answer is not charged again (burst 2: confirm + 1 more)."""
    config = write_config(tmp_path, tokens=(AGENT,), extra=LIMITS)
    (tmp_path / "workspace" / "f.txt").write_text("old")
    with http_server(config, "streamable-http") as served:
        async with sdk_client(
            served, AGENT.secret, mode="auto", elicitation_callback=reply("accept", {"approve": True})
        ) as c:
            confirmed = await c.call_tool("write_file", {"path": "f.txt", "content": "new", "mode": "overwrite"})
            second = await c.call_tool("write_file", {"path": "g.txt", "content": "x"})
            third = await c.call_tool("write_file", {"path": "h.txt", "content": "x"})
    assert not confirmed.is_error, text(confirmed)
    assert (tmp_path / "workspace" / "f.txt").read_text() == "new"
    assert not second.is_error, text(second)
    assert text(third).startswith("blocked by limits: ")


@pytest.mark.process
async def test_stdio_local_user_has_the_same_limits(tmp_path: Path) -> None:
    config = write_config(tmp_path, tokens=(), extra=LIMITS)
    command = serve_command(config)
    params = StdioServerParameters(command=command[0], args=command[1:], env=server_env(), cwd=str(tmp_path))
    assert command[0] == sys.executable
    async with Client(params, mode="legacy") as client:
        results = [await client.call_tool("write_file", {"path": f"s{i}.txt", "content": "x"}) for i in range(3)]
    assert [result.is_error for result in results] == [False, False, True]
    assert text(results[2]) == (
        f"blocked by limits: '{local_principal()}' is over 60 calls per minute (burst 2); retry in 1 s"
    )
