"""Sessions per principal: a cap, a rate charge per opening, idle expiry; streamable HTTP and SSE.

0.1 had only the SDK's server-wide cap (10,000 streamable-HTTP sessions, none for SSE): one token
could fill it and every other principal's ``initialize`` got 503. Servers here are real ``secure-mcp
serve`` subprocesses on 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from secure_mcp.http.sessions import SessionTable
from tests.http.servers import (
    AGENT,
    INITIALIZE,
    JSON_HEADERS,
    NARROW,
    WIDE,
    Served,
    http_server,
    sdk_client,
    write_config,
)

pytestmark = pytest.mark.process

LEGACY = {**JSON_HEADERS, "mcp-protocol-version": "2025-11-25"}
FLOOD = 8  # attempts past the cap: bounded


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the table, with a fake clock -------------------------------------------------------------


def test_the_cap_is_per_principal_and_counts_openings_in_progress() -> None:
    table = SessionTable(cap=2, idle_s=60, clock=Clock())
    assert table.reserve("a") and table.reserve("a")  # two initialize requests in flight
    assert not table.reserve("a")  # a third cannot overshoot while they are answered
    assert table.reserve("b")
    table.open("a", "s1", held=False)
    table.release("a")  # the second initialize failed: its place is free again
    assert table.count("a") == 1 and table.reserve("a")


def test_an_idle_session_expires_but_not_while_a_request_is_in_flight() -> None:
    clock = Clock()
    table = SessionTable(cap=1, idle_s=10, clock=clock)
    assert table.reserve("a")
    table.open("a", "s1", held=False)
    assert table.enter("s1", "a")
    clock.now += 60  # a long request (a GET stream) keeps the session alive
    assert table.count("a") == 1
    table.leave("s1")
    clock.now += 9.9
    assert not table.reserve("a")
    clock.now += 0.2
    assert table.reserve("a") and "s1" not in table


def test_only_the_owner_touches_or_closes_a_session() -> None:
    clock = Clock()
    table = SessionTable(cap=1, idle_s=10, clock=clock)
    table.reserve("a")
    table.open("a", "s1", held=False)
    assert not table.enter("s1", "b")
    table.close("s1", "b")  # another principal's DELETE or 404 does not free a's place
    assert "s1" in table and table.count("a") == 1
    table.close("s1", "a")
    assert table.count("a") == 0


def test_an_sse_stream_is_held_until_closed_and_its_idle_time_is_measured() -> None:
    clock = Clock()
    table = SessionTable(cap=1, idle_s=10, clock=clock)
    table.reserve("a")
    table.open("a", "sse", held=True)
    clock.now += 30
    assert table.count("a") == 1 and table.idle_for("sse") == 30
    table.touch("sse")
    assert table.idle_for("sse") == 0
    table.close("sse", "a")
    assert table.count("a") == 0


def test_a_sweep_forgets_sessions_of_principals_that_never_come_back() -> None:
    clock = Clock()
    table = SessionTable(cap=5, idle_s=10, clock=clock)
    for index in range(3):
        table.reserve("gone")
        table.open("gone", f"g{index}", held=False)
    clock.now += 11
    table.reserve("other")
    assert not any(f"g{index}" in table for index in range(3))


# --- real servers -------------------------------------------------------------------------------


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def initialize(served: Served, secret: str) -> httpx2.Response:
    return httpx2.post(served.endpoint, json=INITIALIZE, headers={**LEGACY, **bearer(secret)}, timeout=10)


def rpc(served: Served, secret: str, session: str, message: dict[str, Any]) -> httpx2.Response:
    headers = {**LEGACY, **bearer(secret), "mcp-session-id": session}
    return httpx2.post(served.endpoint, json=message, headers=headers, timeout=10)


def tools_of(response: httpx2.Response) -> set[str]:
    """The tool names in a tools/list answer (SSE-framed or plain JSON)."""
    text = response.text
    payload = next((line[5:] for line in text.splitlines() if line.startswith("data:")), text)
    return {tool["name"] for tool in json.loads(payload)["result"]["tools"]}


def usable(served: Served, secret: str, session: str) -> set[str]:
    notified = rpc(served, secret, session, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notified.status_code == 202, notified.text
    listed = rpc(served, secret, session, {"jsonrpc": "2.0", "id": 7, "method": "tools/list"})
    assert listed.status_code == 200, listed.text
    return tools_of(listed)


def refusal_message(response: httpx2.Response) -> str:
    assert response.status_code == 429, (response.status_code, response.text)
    return str(response.json()["error"]["message"])


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("sessions-capped")
    extra = "[limits]\nmax_sessions = 2\ncalls_per_minute = 6000\nburst = 1000\n"
    with http_server(write_config(folder, tokens=(AGENT, WIDE, NARROW), extra=extra), "streamable-http") as server:
        yield server


def test_one_principals_flood_leaves_another_principals_sessions_working(capped: Served) -> None:
    wide = initialize(capped, WIDE.secret)
    assert wide.status_code == 200
    wide_session = wide.headers["mcp-session-id"]
    opened = [initialize(capped, AGENT.secret) for _ in range(2)]
    assert [response.status_code for response in opened] == [200, 200]
    flood = [initialize(capped, AGENT.secret) for _ in range(FLOOD)]
    assert {refusal_message(response) for response in flood} == {
        "blocked by limits: 'agent' already has 2 open sessions (limit 2); end one (HTTP DELETE, or close "
        "the SSE stream) or wait until one has been idle for 1800 s"
    }
    assert usable(capped, WIDE.secret, wide_session) == {"write_file", "fetch_url"}  # opened before the flood
    late = initialize(capped, WIDE.secret)  # and opened after it
    assert late.status_code == 200
    assert usable(capped, WIDE.secret, late.headers["mcp-session-id"]) == {"write_file", "fetch_url"}
    first = opened[0].headers["mcp-session-id"]
    assert usable(capped, AGENT.secret, first) == {"write_file"}  # the flooder's own sessions still work
    ended = httpx2.delete(
        capped.endpoint, headers={**LEGACY, **bearer(AGENT.secret), "mcp-session-id": first}, timeout=10
    )
    assert ended.status_code == 200
    assert initialize(capped, AGENT.secret).status_code == 200  # ending one frees its place
    for response in (wide, late):
        httpx2.delete(
            capped.endpoint,
            headers={**LEGACY, **bearer(WIDE.secret), "mcp-session-id": response.headers["mcp-session-id"]},
            timeout=10,
        )


def test_another_principals_session_id_does_not_free_a_place(capped: Served) -> None:
    """WIDE deleting NARROW's session gets the SDK's 404, and NARROW's count is unchanged."""
    full = [initialize(capped, NARROW.secret) for _ in range(3)]
    assert [response.status_code for response in full] == [200, 200, 429]
    stolen = httpx2.delete(
        capped.endpoint,
        headers={**LEGACY, **bearer(WIDE.secret), "mcp-session-id": full[0].headers["mcp-session-id"]},
        timeout=10,
    )
    assert stolen.status_code == 404
    assert initialize(capped, NARROW.secret).status_code == 429
    assert usable(capped, NARROW.secret, full[0].headers["mcp-session-id"]) == {"fetch_url"}


def test_session_openings_are_charged_to_the_callers_rate_limit(tmp_path: Path) -> None:
    extra = "[limits]\ncalls_per_minute = 60\nburst = 3\n"
    with http_server(write_config(tmp_path, tokens=(AGENT, WIDE), extra=extra), "streamable-http") as served:
        statuses = [initialize(served, AGENT.secret).status_code for _ in range(3)]
        tripped = initialize(served, AGENT.secret)
        other = initialize(served, WIDE.secret)
    assert statuses == [200, 200, 200]
    assert refusal_message(tripped) == (
        "blocked by limits: 'agent' is over 60 calls per minute (burst 3); retry in 1 s"
    )
    assert tripped.headers["retry-after"] == "1"
    assert other.status_code == 200  # its own bucket


def test_idle_streamable_sessions_expire_after_the_configured_time(tmp_path: Path) -> None:
    extra = "[limits]\nmax_sessions = 1\nsession_idle_timeout_s = 1\n"
    with http_server(write_config(tmp_path, tokens=(AGENT,), extra=extra), "streamable-http") as served:
        first = initialize(served, AGENT.secret)
        assert first.status_code == 200
        assert initialize(served, AGENT.secret).status_code == 429
        time.sleep(1.6)
        again = initialize(served, AGENT.secret)
        stale = rpc(
            served, AGENT.secret, first.headers["mcp-session-id"], {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        )
    assert again.status_code == 200
    assert stale.status_code == 404  # the SDK expired it at the same configured time


# --- SSE ----------------------------------------------------------------------------------------


async def open_sse(stack: AsyncExitStack, served: Served, secret: str) -> httpx2.Response:
    """Open a GET /sse stream held by ``stack``; its status tells whether it was admitted."""
    client = await stack.enter_async_context(httpx2.AsyncClient(timeout=10))
    headers = {"Accept": "text/event-stream", **bearer(secret)}
    return await stack.enter_async_context(client.stream("GET", served.endpoint, headers=headers))


@pytest.mark.anyio
async def test_sse_connections_are_capped_per_principal(tmp_path: Path) -> None:
    extra = "[limits]\nmax_sessions = 2\ncalls_per_minute = 6000\nburst = 1000\n"
    with http_server(write_config(tmp_path, tokens=(AGENT, WIDE), extra=extra), "sse") as served:
        async with AsyncExitStack() as stack:
            held = [await open_sse(stack, served, AGENT.secret) for _ in range(2)]
            assert [response.status_code for response in held] == [200, 200]
            async with AsyncExitStack() as flood_stack:
                flood = [await open_sse(flood_stack, served, AGENT.secret) for _ in range(FLOOD)]
                assert {response.status_code for response in flood} == {429}
                body = json.loads(await flood[0].aread())
            assert body["error"]["message"].startswith("blocked by limits: 'agent' already has 2 open sessions")
            async with sdk_client(served, WIDE.secret) as wide:  # another principal is unaffected
                assert {tool.name for tool in (await wide.list_tools()).tools} == {"write_file", "fetch_url"}
        async with AsyncExitStack() as stack:  # closing the streams frees the places (noticed quickly)
            deadline = time.monotonic() + 5
            while (status := (await open_sse(stack, served, AGENT.secret)).status_code) != 200:
                assert time.monotonic() < deadline, status
                await anyio.sleep(0.2)


@pytest.mark.anyio
async def test_an_idle_sse_connection_is_closed_and_an_active_one_is_kept(tmp_path: Path) -> None:
    extra = "[limits]\nmax_sessions = 1\nsession_idle_timeout_s = 2\ncalls_per_minute = 6000\nburst = 1000\n"
    with http_server(write_config(tmp_path, tokens=(AGENT,), extra=extra), "sse") as served:
        async with sdk_client(served, AGENT.secret) as active:  # a message every 0.5 s for 3 s: kept
            for _ in range(6):
                assert (await active.list_tools()).tools
                await anyio.sleep(0.5)
        async with AsyncExitStack() as stack:
            deadline = time.monotonic() + 5  # the closed client's place is freed
            while (idle := await open_sse(stack, served, AGENT.secret)).status_code != 200:
                assert time.monotonic() < deadline
                await anyio.sleep(0.2)
            started = time.monotonic()
            async for _ in idle.aiter_bytes():  # the endpoint event, then nothing: closed by the server
                assert time.monotonic() - started < 10
            assert 1.5 < time.monotonic() - started < 6
            reopened = await open_sse(stack, served, AGENT.secret)
            assert reopened.status_code == 200
