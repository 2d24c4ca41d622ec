"""``timeout_s`` covers the HTML conversion: a page that takes seconds to convert is stopped in time.

0.1 converted in a thread that nothing could stop: 1 MiB of ``<br>`` with ``timeout_s = 1`` came
back after 13-18 s with a core busy. The fixture server is on loopback (admitted by allow_hosts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from secure_mcp.errors import ToolFailure
from secure_mcp.fetch import FetchPolicy, fetch
from secure_mcp.fetch.worker import MAX_IDLE, ConversionTimeout, convert_html

from .helpers import FixtureServer, html

pytestmark = [pytest.mark.anyio, pytest.mark.process]
BR_PAGE = "<br>" * (1024 * 1024 // 4)  # 1 MiB; seconds of CPU to parse and convert
SLACK_S = 2.0  # a shared, loaded machine: the worker start and the kill, never the conversion itself


def policy(server: FixtureServer, timeout_s: float) -> FetchPolicy:
    return FetchPolicy(allow_hosts=(f"{server.host}:{server.port}",), timeout_s=timeout_s, max_bytes=2 * 1024 * 1024)


def workers() -> dict[int, str]:
    """This process's conversion workers and their states (``S`` idle, ``R`` computing)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        state, parent = stat.rpartition(")")[2].split()[:2]
        if int(parent) == os.getpid() and b"child_main" in cmdline:
            found[int(entry.name)] = state
    return found


@pytest.mark.parametrize("fmt", ["markdown", "text"])
async def test_a_slow_conversion_is_stopped_at_the_deadline_and_says_so(fmt: str) -> None:
    async with FixtureServer({"/br": html(BR_PAGE)}) as server:
        started = time.monotonic()
        with pytest.raises(ToolFailure) as caught:
            await fetch(server.url("/br"), fmt, policy(server, 1.0))  # type: ignore[arg-type]
        elapsed = time.monotonic() - started
    assert caught.value.reason == "timeout"
    assert caught.value.message.startswith(f"the fetch did not finish within 1 s: converting the HTML page to {fmt}")
    assert elapsed < 1.0 + SLACK_S, elapsed
    left = workers()  # the timed-out worker is killed and reaped; only idle ones are left
    assert len(left) <= MAX_IDLE and set(left.values()) <= {"S"}, left


async def test_the_same_page_as_raw_is_returned_within_the_time() -> None:
    """Only the conversion is slow; raw skips it and gets the whole page."""
    async with FixtureServer({"/br": html(BR_PAGE)}) as server:
        outcome = await fetch(server.url("/br"), "raw", policy(server, 5.0))
    assert outcome.content == BR_PAGE and not outcome.truncated


async def test_the_conversion_gets_only_what_the_network_left() -> None:
    """The budget is the whole fetch's: a slow response leaves the conversion less time, not a new timeout_s."""
    async with FixtureServer({"/page": html("<h1>Title</h1><p>body</p>")}) as server:
        outcome = await fetch(server.url("/page"), "markdown", policy(server, 5.0))
    assert outcome.content == "# Title\n\nbody\n"
    with pytest.raises(ConversionTimeout):
        await convert_html("<p>x</p>", "markdown", 0.0)  # nothing left: not even started


async def test_a_small_page_converts_in_a_worker_quickly() -> None:
    await convert_html("<p>warm</p>", "markdown", 10.0)  # the first conversion starts the fork server
    started = time.monotonic()
    for _ in range(5):
        text, hidden = await convert_html("<p>a <b>b</b></p><div hidden>x</div>", "markdown", 10.0)
        assert (text, hidden) == ("a **b**\n", 1)
    assert (time.monotonic() - started) / 5 < 0.5
