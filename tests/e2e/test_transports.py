"""`secure-mcp serve` as a real subprocess: stdio, SSE and streamable HTTP on loopback (issue 2)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from secure_mcp.http.tokens import hash_token

pytestmark = pytest.mark.anyio
TOKEN = "smcp_test-token-for-loopback-only-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, tools: str = '["fetch_url", "write_file"]') -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[sandbox]\nwarm_pool = 0\n[[auth.tokens]]\nname = "tester"\nsha256 = "{hash_token(TOKEN)}"\ntools = {tools}\n'
    )
    return config


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SECURE_MCP_CONFIG", None)
    return env


@pytest.fixture
def http_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    transport = request.param
    port = free_port()
    config = write_config(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secure_mcp",
            "serve",
            "--config",
            str(config),
            "--transport",
            transport,
            "--port",
            str(port),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server exited")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess_lists_tools_and_refuses_with_the_refusal_format(tmp_path: Path, mode: str) -> None:
    """The real `secure-mcp serve` over stdio speaks both eras; stdout carries only the protocol."""
    config = tmp_path / "config.toml"
    config.write_text("[sandbox]\nwarm_pool = 0\n")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "secure_mcp", "serve", "--config", str(config)],
        env=server_env(),
        cwd=str(tmp_path),
    )
    async with Client(params, mode=mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        result = await c.call_tool("write_file", {"path": "../escape.txt", "content": "x"})
    assert names == {"run_command", "write_file", "execute_python", "fetch_url"}
    assert result.is_error
    assert result.content[0].text.startswith("blocked by validate: ")  # type: ignore[union-attr]
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize("http_server", ["streamable-http"], indirect=True)
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_with_a_token_sees_only_its_tools(http_server: str, mode: str) -> None:
    """A token lists and calls only the tools it was given; others are refused by auth."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(f"{http_server}/mcp", http_client=http), mode=mode) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            denied = await c.call_tool("run_command", {"command": "ls"})
    assert names == {"fetch_url", "write_file"}
    assert denied.is_error
    assert denied.content[0].text == "blocked by auth: token 'tester' may not call run_command"  # type: ignore[union-attr]


@pytest.mark.parametrize("http_server", ["sse"], indirect=True)
async def test_sse_with_a_token_works_and_refuses_other_tools(http_server: str) -> None:
    """The legacy SSE transport authenticates the same way."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with Client(sse_client(f"{http_server}/sse", headers=headers), mode="legacy") as c:
        names = {t.name for t in (await c.list_tools()).tools}
        denied = await c.call_tool("execute_python", {"code": "print(1)"})
    assert names == {"fetch_url", "write_file"}
    assert denied.content[0].text.startswith("blocked by auth: ")  # type: ignore[union-attr]


@pytest.mark.parametrize("http_server", ["streamable-http", "sse"], indirect=True)
def test_http_refuses_missing_and_bad_tokens_and_foreign_hosts(http_server: str) -> None:
    """No token or a wrong one gets 401 with WWW-Authenticate; a foreign Host header is refused."""
    path = (
        "/mcp"
        if httpx2.get(f"{http_server}/sse", timeout=2, headers={"Accept": "text/event-stream"}).status_code == 404
        else "/sse"
    )
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if path == "/mcp":
        none = httpx2.post(f"{http_server}{path}", json=body, headers=headers, timeout=5)
        bad = httpx2.post(
            f"{http_server}{path}", json=body, headers={**headers, "Authorization": "Bearer nope"}, timeout=5
        )
    else:
        none = httpx2.get(f"{http_server}{path}", headers={"Accept": "text/event-stream"}, timeout=5)
        bad = httpx2.get(
            f"{http_server}{path}", headers={"Accept": "text/event-stream", "Authorization": "Bearer nope"}, timeout=5
        )
    for response in (none, bad):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    foreign = httpx2.post(
        f"{http_server}/mcp" if path == "/mcp" else f"{http_server}/messages/?session_id=x",
        json=body,
        headers={**headers, "Authorization": f"Bearer {TOKEN}", "Host": "evil.example"},
        timeout=5,
    )
    assert foreign.status_code in (400, 403, 421)


def test_binding_a_non_loopback_address_without_tokens_is_refused(tmp_path: Path) -> None:
    """The server will not take unauthenticated calls from the network: it refuses to start."""
    config = tmp_path / "config.toml"
    config.write_text("[auth]\ndisabled = true\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "secure_mcp",
            "serve",
            "--config",
            str(config),
            "--transport",
            "streamable-http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0" in done.stderr


def test_http_without_tokens_needs_auth_explicitly_disabled(tmp_path: Path) -> None:
    """Fail closed: no tokens and auth not disabled means the HTTP server does not start."""
    config = tmp_path / "config.toml"
    config.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "secure_mcp",
            "serve",
            "--config",
            str(config),
            "--transport",
            "sse",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )
    assert done.returncode == 2
    assert "token create" in done.stderr
