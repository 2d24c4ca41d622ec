"""Real ``secure-mcp serve`` subprocesses on loopback, for the HTTP, interop and limits tests.

Every server binds 127.0.0.1 on a free port, is polled on ``/healthz`` until it answers (bounded),
and is terminated (then killed) in ``finally``; nothing here opens a connection off this machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from secure_mcp.http.tokens import hash_token

STARTUP_S = 30.0

#: Headers and the first message of a hand-made JSON-RPC request, for tests below the SDK client.
JSON_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


@dataclass(frozen=True)
class Token:
    """A bearer token the test knows in clear, and the tools its config table grants."""

    name: str
    secret: str
    tools: tuple[str, ...]

    def table(self) -> str:
        tools = ", ".join(f'"{tool}"' for tool in self.tools)
        return f'[[auth.tokens]]\nname = "{self.name}"\nsha256 = "{hash_token(self.secret)}"\ntools = [{tools}]\n'


AGENT = Token("agent", "smcp_agent-token-for-loopback-tests-0123456789", ("write_file",))
NARROW = Token("narrow", "smcp_narrow-token-for-loopback-tests-987654321", ("fetch_url",))
WIDE = Token("wide", "smcp_wide-token-for-loopback-tests-5555555555", ("write_file", "fetch_url"))


@dataclass(frozen=True)
class Served:
    """A running HTTP server: its base URL, MCP endpoint, config folder and workspace."""

    base: str
    endpoint: str
    folder: Path

    @property
    def workspace(self) -> Path:
        return self.folder / "workspace"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env() -> dict[str, str]:
    """The test's environment without a config override, so only ``--config`` counts."""
    env = dict(os.environ)
    env.pop("SECURE_MCP_CONFIG", None)
    return env


def write_config(folder: Path, tokens: Sequence[Token] = (AGENT, NARROW), extra: str = "") -> Path:
    """A config with no warm sandbox pool (no Docker needed), the given tokens and extra TOML."""
    (folder / "workspace").mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text("[sandbox]\nwarm_pool = 0\n" + extra + "\n" + "".join(token.table() for token in tokens))
    return config


def serve_command(config: Path, transport: str = "stdio", port: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "secure_mcp", "serve", "--config", str(config), "--transport", transport]
    return command if port is None else [*command, "--host", "127.0.0.1", "--port", str(port)]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill: no server outlives its test."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def http_server(config: Path, transport: str, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """``secure-mcp serve`` over ``sse`` or ``streamable-http`` on 127.0.0.1, ready when yielded."""
    port = free_port()
    log = config.parent / f"server-{transport}-{port}.log"  # a file, not a pipe: a full pipe would stall it
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            serve_command(config, transport, port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=dict(env) if env is not None else server_env(),
            cwd=config.parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                detail = log.read_text(errors="replace")
                raise AssertionError(f"server exited with {proc.returncode}: {detail}")
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer /healthz within {STARTUP_S} s")
            time.sleep(0.1)
        path = "/sse" if transport == "sse" else "/mcp"
        yield Served(base=base, endpoint=f"{base}{path}", folder=config.parent)
    finally:
        stop(proc)


@asynccontextmanager
async def sdk_client(served: Served, token: str | None, mode: str = "legacy", **kwargs: Any) -> AsyncIterator[Client]:
    """The Python SDK's client on ``served``, sending ``token`` as a bearer token when given.

    SSE is a 2025-11-25 transport, so it always connects in legacy mode.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if served.endpoint.endswith("/sse"):
        async with Client(sse_client(served.endpoint, headers=headers, timeout=30), mode="legacy", **kwargs) as client:
            yield client
        return
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(served.endpoint, http_client=http), mode=mode, **kwargs) as client:
            yield client
