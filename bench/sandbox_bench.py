"""``execute_python("print(1)")`` end to end through an MCP client, in-process: cold vs warm pool.

Run alone: ``/work/venv/bin/python bench/sandbox_bench.py [--calls 30]``. Needs Docker and the
sandbox image.

Each call goes through ``mcp.Client`` (2026-07-28 era) into the full pipeline (every stage, the real
HMAC audit log with group commit in a temporary folder) and a fresh hardened container. Three rows:

* cold: ``warm_pool = 0``, every call creates and starts its container;
* warm: ``warm_pool = 2``, and before each call the bench waits (at most 5 s) until the pool has
  refilled, as for an agent that thinks between calls;
* back-to-back: ``warm_pool = 2``, no pause: the pool drains and a call whose pool is empty starts
  its own container.

Two more rows measure the exec tracer (issue 14) on the ``Sandbox`` API directly, warm pool refilled
before each call, enforcement on and off interleaved in the same run: ``echo hi`` (one exec, bash)
and ``for i in $(seq 1000); do /bin/true; done`` (1,001 programs started, each checked).

Every loop is bounded in count and time; every container is removed when the runtime closes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from common import BENCH_KEY, BENCH_KEY_ENV, Row, bench_config_data, median, pct
from mcp import Client

from secure_mcp.config import parse_config
from secure_mcp.runtime import open_runtime
from secure_mcp.sandbox import Sandbox, SandboxRequest, SandboxSettings
from secure_mcp.tools import all_tools

DEADLINE_S = 300
#: The image to bench (``SECURE_MCP_SANDBOX_IMAGE``, as the tests use), else the config's default.
IMAGE = {"image": os.environ["SECURE_MCP_SANDBOX_IMAGE"]} if os.environ.get("SECURE_MCP_SANDBOX_IMAGE") else {}
ARGS = {"code": "print(1)", "timeout_s": 10}


def _pool_full(sandbox: Any) -> bool:
    pool = sandbox._pool  # the bench peeks at the pool to leave the refill time it needs
    return bool(pool.size() >= pool._size * len(pool._ready))


async def _measure(root: Path, calls: int, warm_pool: int, wait_for_pool: bool) -> list[float]:
    data = bench_config_data(root, {"sandbox": {"warm_pool": warm_pool, **IMAGE}})
    config = parse_config(data, root)
    timings: list[float] = []
    tools = {"execute_python": all_tools()["execute_python"]}
    async with open_runtime(config, transport="memory", tools=tools) as rt:
        box = rt.pipeline.env.sandbox
        async with Client(rt.server) as client:  # type: ignore[arg-type]
            with anyio.fail_after(DEADLINE_S):
                for index in range(calls + 2):  # two warm-up calls, not counted
                    if wait_for_pool and warm_pool:
                        for _ in range(100):
                            if _pool_full(box):
                                break
                            await anyio.sleep(0.05)
                    started = time.perf_counter()
                    result = await client.call_tool("execute_python", ARGS)
                    elapsed = (time.perf_counter() - started) * 1000
                    structured = result.structured_content or {}
                    if result.is_error or structured.get("stdout") != "1\n":
                        raise RuntimeError(f"execute_python failed: {result.content}")
                    if index >= 2:
                        timings.append(elapsed)
    return timings


LOOP = "for i in $(seq 1000); do /bin/true; done"
#: Run inside one container (as execute_python code, where the runner has the tracer loaded): a
#: fresh child per run, traced and untraced interleaved, so the engine's noise is out of the figure.
INNER = """
import json, os, statistics, sys, time
m = sys.modules["secure_mcp_sandbox_tracer"]
env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
runs = {}
for command, count in (("echo hi", RUNS), ("for i in $(seq 1000); do /bin/true; done", LOOPS)):
    argv = ["bash", "--noprofile", "--norc", "-c", command]
    for _ in range(count):
        for mode in ("on", "off"):
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                if mode == "on":
                    m.run_traced(argv, env, m.resolve_approved(["ls", "cat", "echo", "seq", "true"], "/"))
                else:
                    m.run_untraced(argv, env)
                os._exit(0)
            os.waitpid(pid, 0)
            runs.setdefault(command.split()[0] + " " + mode, []).append((time.perf_counter() - started) * 1000)
print(json.dumps({k: [statistics.median(v), min(v)] for k, v in runs.items()}))
"""


async def _enforcement(root: Path, calls: int, loops: int) -> dict[str, list[float]]:
    """Warm ``echo hi`` and the 1,000-exec loop, enforcement on vs off, alternating call by call."""
    config = parse_config(bench_config_data(root, {"sandbox": {"warm_pool": 1, **IMAGE}}), root)
    settings = SandboxSettings.from_config(config.sandbox)
    config.workspace_root.mkdir(parents=True, exist_ok=True)
    box = Sandbox(settings, config.workspace_root, instance_id=f"bench-exec-{os.getpid()}")
    timings: dict[str, list[float]] = {}
    await box.start()
    try:
        with anyio.fail_after(DEADLINE_S):
            for index in range(calls + 2):
                for mode in ("enforce", "off"):
                    for _ in range(100):
                        if _pool_full(box):
                            break
                        await anyio.sleep(0.05)
                    request = SandboxRequest("shell", "echo hi", workspace_rw=True, approved=(), exec_mode=mode)
                    started = time.perf_counter()
                    result = await box.run(request)
                    elapsed = (time.perf_counter() - started) * 1000
                    if result.stdout != "hi\n" or result.blocked is not None:
                        raise RuntimeError(f"echo hi failed: {result}")
                    if index >= 2:
                        timings.setdefault(f"echo {mode}", []).append(elapsed)
            for _ in range(loops):
                for mode in ("enforce", "off"):
                    request = SandboxRequest(
                        "shell", LOOP, workspace_rw=True, approved=("seq", "true"), exec_mode=mode, timeout_s=120
                    )
                    started = time.perf_counter()
                    result = await box.run(request)
                    if result.exit_code != 0 or result.blocked is not None:
                        raise RuntimeError(f"the loop failed: {result}")
                    timings.setdefault(f"loop {mode}", []).append((time.perf_counter() - started) * 1000)
            code = INNER.replace("RUNS", str(calls * 2)).replace("LOOPS", str(loops))
            inner = await box.run(SandboxRequest("python", code, timeout_s=120))
            if inner.exit_code != 0:
                raise RuntimeError(f"the in-container measurement failed: {inner.stderr[-500:]}")
            figures = json.loads(inner.stdout)
            for key, pair in figures.items():
                timings[f"inner {key}"] = pair
    finally:
        await box.close()
    return timings


def _enforcement_rows(timings: dict[str, list[float]]) -> list[Row]:
    on, off = median(timings["echo enforce"]), median(timings["echo off"])
    loop_on, loop_off = median(timings["loop enforce"]), median(timings["loop off"])
    return [
        Row(
            "sandbox",
            "run_command-style `echo hi`, warm, exec enforcement on vs off (same run)",
            {
                "calls": len(timings["echo enforce"]),
                "p50 on ms": on,
                "p50 off ms": off,
                "cost ms": on - off,
                "min on ms": min(timings["echo enforce"]),
                "min off ms": min(timings["echo off"]),
            },
            "within 5 ms",
            "met" if on - off <= 5 else "missed",
        ),
        Row(
            "sandbox",
            "`echo hi` inside one container, fresh runner child per run, traced vs untraced",
            {
                "p50 on ms": timings["inner echo on"][0],
                "p50 off ms": timings["inner echo off"][0],
                "cost ms": timings["inner echo on"][0] - timings["inner echo off"][0],
                "min on ms": timings["inner echo on"][1],
                "min off ms": timings["inner echo off"][1],
            },
            "within 5 ms",
            "met" if timings["inner echo on"][0] - timings["inner echo off"][0] <= 5 else "missed",
        ),
        Row(
            "sandbox",
            "`for i in $(seq 1000); do /bin/true; done` (1,001 execs), on vs off",
            {
                "runs": len(timings["loop enforce"]),
                "p50 on ms": loop_on,
                "p50 off ms": loop_off,
                "per exec us": (loop_on - loop_off) * 1000 / 1001,
                "in-container p50 on ms": timings["inner for on"][0],
                "off ms": timings["inner for off"][0],
                "per exec us (in-container)": (timings["inner for on"][0] - timings["inner for off"][0]) * 1000 / 1001,
            },
        ),
    ]


async def run(calls: int = 30) -> list[Row]:
    os.environ.setdefault(BENCH_KEY_ENV, BENCH_KEY)
    cases = (("cold (warm_pool=0)", 0, False), ("warm (pool refilled)", 2, True), ("back-to-back (pool=2)", 2, False))
    results: dict[str, list[float]] = {}
    for name, pool, wait in cases:
        with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
            root = Path(tmp)
            root.chmod(0o755)
            results[name] = await _measure(root, calls, pool, wait)
    cold, warm = median(results[cases[0][0]]), median(results[cases[1][0]])
    rows = []
    for name, values in results.items():
        figures: dict[str, Any] = {"calls": len(values), "p50 ms": median(values), "p95 ms": pct(values, 0.95)}
        target = verdict = ""
        if name.startswith("warm"):
            figures["x faster than cold"] = cold / warm if warm else 0.0
            target = "p50 <= 60 ms and >= 4x cold"
            verdict = "met" if warm <= 60 and cold >= 4 * warm else "missed"
        rows.append(Row("sandbox", f"execute_python print(1), MCP in-process: {name}", figures, target, verdict))
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        rows.extend(_enforcement_rows(await _enforcement(root, calls, max(3, calls // 5))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    for row in anyio.run(run, max(1, min(args.calls, 500))):
        print(row.case, {k: round(v, 2) if isinstance(v, float) else v for k, v in row.figures.items()}, row.verdict)


if __name__ == "__main__":
    main()
