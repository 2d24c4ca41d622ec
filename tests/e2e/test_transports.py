"""`secure-mcp serve` as a real subprocess: stdio, SSE and streamable HTTP on loopback (issue 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from tests.http.servers import WIDE, free_port, http_server, sdk_client, serve_command, server_env, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.process]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess_lists_tools_and_refuses_with_the_refusal_format(tmp_path: Path, mode: str) -> None:
    """The real `secure-mcp serve` over stdio speaks both eras; stdout carries only the protocol."""
    config = write_config(tmp_path, tokens=())
    params = StdioServerParameters(
        command=sys.executable, args=serve_command(config)[1:], env=server_env(), cwd=str(tmp_path)
    )
    async with Client(params, mode=mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        result = await c.call_tool("write_file", {"path": "../escape.txt", "content": "x"})
    assert names == {"run_command", "write_file", "execute_python", "fetch_url"}
    assert result.is_error
    assert result.content[0].text.startswith("blocked by validate: ")  # type: ignore[union-attr]
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    ("transport", "mode"), [("streamable-http", "auto"), ("streamable-http", "legacy"), ("sse", "legacy")]
)
async def test_http_transports_serve_a_token_only_its_tools(tmp_path: Path, transport: str, mode: str) -> None:
    """Over SSE and streamable HTTP a token lists and calls only the tools it was given."""
    with http_server(write_config(tmp_path, tokens=(WIDE,)), transport) as served:
        async with sdk_client(served, WIDE.secret, mode=mode) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            written = await c.call_tool("write_file", {"path": "a.txt", "content": "over http"})
            denied = await c.call_tool("run_command", {"command": "ls"})
        health = httpx2.get(f"{served.base}/healthz", timeout=5)
    assert names == {"fetch_url", "write_file"}
    assert not written.is_error and (served.workspace / "a.txt").read_text() == "over http"
    assert denied.content[0].text == "blocked by auth: token 'wide' may not call run_command"  # type: ignore[union-attr]
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def _serve_once(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_mcp", "serve", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )


def test_binding_a_non_loopback_address_without_tokens_is_refused(tmp_path: Path) -> None:
    """The server will not take unauthenticated calls from the network: it refuses to start."""
    config = tmp_path / "config.toml"
    config.write_text("[auth]\ndisabled = true\n")
    done = _serve_once(config, "--transport", "streamable-http", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0" in done.stderr


def test_http_without_tokens_needs_auth_explicitly_disabled(tmp_path: Path) -> None:
    """Fail closed: no tokens and auth not disabled means the HTTP server does not start."""
    config = tmp_path / "config.toml"
    config.write_text("")
    done = _serve_once(config, "--transport", "sse", "--port", str(free_port()))
    assert done.returncode == 2
    assert "token create" in done.stderr
