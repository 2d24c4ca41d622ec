"""Latency of ``execute_python("print(1)")`` through ``Sandbox.run``: cold start vs warm pool.

One command: ``/work/venv/bin/python bench/sandbox_bench.py [--calls 30]``. Needs Docker and the
sandbox image. Every loop is bounded in count and time; every container is removed on close.
Three rows: cold (warm_pool=0); warm (the pool has a ready container when the call arrives, as for
an agent that thinks between calls); back-to-back (no pause: the pool drains and calls fall back
to cold starts whenever the refill lags).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from secure_mcp.sandbox import Sandbox, SandboxRequest, SandboxSettings

REQUEST = SandboxRequest("python", "print(1)", timeout_s=10)
DEADLINE_S = 240


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(settings: SandboxSettings, workspace: Path, calls: int, wait_for_pool: bool) -> list[float]:
    box = Sandbox(settings, workspace, instance_id=f"bench-{settings.warm_pool}-{wait_for_pool}")
    await box.start()
    timings: list[float] = []
    try:
        with anyio.fail_after(DEADLINE_S):
            for _ in range(calls + 2):  # two warm-up calls, not counted
                if wait_for_pool and settings.warm_pool:
                    for _ in range(100):  # at most 5 s for the background refill
                        if box._pool.size() >= settings.warm_pool * len(settings.pool_modes):
                            break
                        await anyio.sleep(0.05)
                started = time.perf_counter()
                result = await box.run(REQUEST)
                timings.append((time.perf_counter() - started) * 1000)
                assert result.exit_code == 0 and result.stdout == "1\n", result
    finally:
        await box.close()
    return timings[2:]


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        workspace.chmod(0o755)
        rows = [
            ("cold (warm_pool=0)", await _measure(SandboxSettings(warm_pool=0), workspace, calls, False)),
            ("warm (pool ready)", await _measure(SandboxSettings(warm_pool=2), workspace, calls, True)),
            ("back-to-back (pool=2)", await _measure(SandboxSettings(warm_pool=2), workspace, calls, False)),
        ]
    print(f"execute_python('print(1)') via Sandbox.run, {calls} calls each, milliseconds")
    print(f"{'mode':<24}{'p50':>8}{'p95':>8}{'mean':>8}{'min':>8}{'max':>8}")
    for name, values in rows:
        print(
            f"{name:<24}{statistics.median(values):>8.1f}{_percentile(values, 0.95):>8.1f}"
            f"{statistics.fmean(values):>8.1f}{min(values):>8.1f}{max(values):>8.1f}"
        )
    cold, warm = statistics.median(rows[0][1]), statistics.median(rows[1][1])
    print(f"warm p50 is {cold / warm:.1f}x faster than cold")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    arguments = parser.parse_args()
    anyio.run(main, max(1, min(arguments.calls, 500)))
