"""Approval latency: from the approve API call (what the console's Approve button sends) to the result at the client.

A real ``secure-mcp serve`` on stdio (console on a free loopback port), the Python SDK client
declaring no elicitation (Claude Desktop's situation), ``write_file`` mode=overwrite (a yes is
needed; no Docker). For each call: wait until it is pending in the console (not timed), then time
``POST /api/decide`` -> ``call_tool`` returns. Both protocol eras. Target: p50 < 100 ms.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from common import Row, fmt_ms, pct
from mcp import Client, StdioServerParameters

from secure_mcp.approvals.keys import load_or_create_key, sign


async def _one_era(folder: Path, mode: str, calls: int) -> list[float]:
    config = folder / "config.toml"
    env = {k: v for k, v in os.environ.items() if k != "SECURE_MCP_CONFIG"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "secure_mcp", "serve", "--config", str(config)], env=env, cwd=folder
    )
    timings: list[float] = []
    async with Client(params, mode=mode) as client:
        state_file = folder / "state" / "console.json"
        with anyio.fail_after(30):
            while not state_file.exists():
                await anyio.sleep(0.05)
        url = json.loads(state_file.read_text())["url"]
        key = load_or_create_key(folder / "state", create=False)
        async with httpx2.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
            for i in range(calls):
                done: list[float] = []

                async def calling(n: int = i, done: list[float] = done) -> None:
                    args = {"path": "f.txt", "content": f"version {n}\n", "mode": "overwrite"}
                    result = await client.call_tool("write_file", args)
                    done.append(time.perf_counter())
                    assert not result.is_error, result

                async with anyio.create_task_group() as group:
                    group.start_soon(calling)
                    with anyio.fail_after(30):
                        while True:
                            headers = {"x-secure-mcp-approver": sign(key, "api", "bench", 60)}
                            pending = (await http.get("/api/state", headers=headers)).json()["pending"]
                            if pending:
                                break
                            await anyio.sleep(0.005)
                    item = pending[0]
                    headers = {"x-secure-mcp-approver": sign(key, "api", "bench", 60)}
                    started = time.perf_counter()
                    response = await http.post(
                        "/api/decide",
                        json={"id": item["id"], "digest": item["digest"], "decision": "approve"},
                        headers=headers,
                    )
                    assert response.status_code == 200, response.text
                timings.append((done[0] - started) * 1000)
    return timings


async def run(calls: int = 30) -> list[Row]:
    rows: list[Row] = []
    for mode, era in (("auto", "2026-07-28"), ("legacy", "2025-11-25")):
        with tempfile.TemporaryDirectory(prefix="smcp-approvals-bench-") as tmp:
            folder = Path(tmp)
            (folder / "workspace").mkdir()
            (folder / "workspace" / "f.txt").write_text("start\n")
            (folder / "config.toml").write_text(
                '[sandbox]\nwarm_pool = 0\n[approvals]\nport = 0\nstate_dir = "state"\n'
                "[limits]\ncalls_per_minute = 100000\nburst = 10000\n"
            )
            timings = await _one_era(folder, mode, calls)
        p50 = pct(timings, 0.5)
        rows.append(
            Row(
                "approvals",
                f"approve API call -> result at the client, stdio, write_file overwrite ({era}, {calls} calls)",
                {"p50 ms": fmt_ms(p50), "p95 ms": fmt_ms(pct(timings, 0.95)), "max ms": fmt_ms(max(timings))},
                target="p50 < 100 ms",
                verdict="met" if p50 < 100 else "missed",
            )
        )
    return rows


if __name__ == "__main__":
    for row in anyio.run(run, 30):
        print(row.case, row.figures, row.verdict)
