"""Helpers for approval tests: an in-process server with its console on a free loopback port."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from secure_mcp.approvals.keys import load_or_create_key, sign
from secure_mcp.approvals.serving import console_running, signin_link
from secure_mcp.runtime import Runtime
from secure_mcp.testing import MemoryAuditSink
from secure_mcp.toolkit import ToolSpec
from tests.support import make_config, runtime


@dataclass
class Console:
    rt: Runtime
    url: str
    key: bytes
    sink: MemoryAuditSink
    stderr: io.StringIO

    def api_headers(self, approver: str = "alice") -> dict[str, str]:
        return {"x-secure-mcp-approver": sign(self.key, "api", approver, 60)}

    def link(self, approver: str = "alice") -> str:
        return signin_link(self.key, self.url, approver, 600)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(base_url=self.url, trust_env=False, timeout=10)

    async def state(self) -> dict[str, Any]:
        async with self.client() as http:
            response = await http.get("/api/state", headers=self.api_headers())
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def decide(self, decision_id: str, decision: str, digest: str | None = None) -> httpx2.Response:
        if digest is None:
            pending = {p["id"]: p for p in (await self.state())["pending"]}
            digest = pending[decision_id]["digest"]
        async with self.client() as http:
            return await http.post(
                "/api/decide",
                json={"id": decision_id, "digest": digest, "decision": decision},
                headers=self.api_headers(),
            )


def console_config(tmp_path: Path, overrides: Mapping[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {"approvals": {"port": 0, "state_dir": "state"}, "confirmation": {"timeout_s": 20}}
    for key, value in (overrides or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return make_config(tmp_path, data)


@asynccontextmanager
async def served(
    tmp_path: Path, overrides: Mapping[str, Any] | None = None, tools: Mapping[str, ToolSpec] | None = None
) -> AsyncIterator[Console]:
    """An in-process server (memory transport) whose console serves on 127.0.0.1:<free port>."""
    config = console_config(tmp_path, overrides)
    sink = MemoryAuditSink()
    err = io.StringIO()
    async with runtime(config, tools=tools, sink=sink) as rt, console_running(config, rt.desk, out=err) as url:
        assert url is not None, err.getvalue()
        key = load_or_create_key(config.resolve(config.approvals.state_dir), create=False)
        yield Console(rt=rt, url=url, key=key, sink=sink, stderr=err)


async def wait_pending(console: Console, count: int = 1, timeout_s: float = 10) -> list[dict[str, Any]]:
    """Poll until ``count`` calls are pending in the console."""
    import anyio

    with anyio.fail_after(timeout_s):
        while True:
            pending: list[dict[str, Any]] = (await console.state())["pending"]
            if len(pending) >= count:
                return pending
            await anyio.sleep(0.02)
