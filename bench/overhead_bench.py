"""Per-call overhead: the full pipeline around a call that does nothing vs. the same SDK server unguarded.

Run alone: ``/work/venv/bin/python bench/overhead_bench.py [--calls 2000] [--profile]``.

Both servers are ``MCPServer`` instances reached in-process through ``mcp.Client``, in both protocol
eras (``auto`` lands on 2026-07-28, ``legacy`` is the 2025-11-25 handshake). The guarded one has
every stage on: auth, limits (the bucket is just large), sanitize (input scan and output scan and
clean), validate (pydantic model + the tool's ``prepare``), confirm (nothing to ask), redaction of
the result and both audit records, and the real ``AuditLog`` with an HMAC key and group commit in a
temporary folder, so each call waits for two fdatasyncs (``call_received`` before the tool runs,
``executed`` before the result returns). A second guarded row puts the audit folder on tmpfs
(``/dev/shm``), where fsync is free: not durable, only there to separate the guards' CPU cost from
the disk's fsync latency.

Every loop is bounded by its call count and a deadline; temporary folders are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from common import BENCH_KEY, BENCH_KEY_ENV, Row, bench_config_data, median, pct
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from secure_mcp.audit import AuditLog, load_key, verify_log
from secure_mcp.call import Plan
from secure_mcp.config import parse_config
from secure_mcp.models import ArgsModel, ToolResult
from secure_mcp.runtime import open_runtime
from secure_mcp.toolkit import ToolEnv, ToolSpec

DEADLINE_S = 300
ARGS = {"name": "bench", "note": "hello from the benchmark"}


class NoopArgs(ArgsModel):
    name: str
    note: str = ""


class NoopResult(ToolResult):
    echo: str


async def _noop_prepare(args: NoopArgs, env: ToolEnv) -> Plan:
    return Plan(prompt=f"echo {args.name}")


async def _noop_execute(args: NoopArgs, plan: Plan, env: ToolEnv, progress: Any) -> NoopResult:
    return NoopResult(echo=args.note)


NOOP_SPEC = ToolSpec(
    name="noop",
    title="noop",
    description="echoes its note; does nothing else",
    annotations=ToolAnnotations(read_only_hint=True),
    args_model=NoopArgs,
    result_model=NoopResult,
    prepare=_noop_prepare,
    execute=_noop_execute,
    output_fields=("echo",),
)


def baseline_server() -> MCPServer[Any]:
    """The SDK's own server with the same trivial tool and no guard at all."""
    server: MCPServer[Any] = MCPServer("baseline", log_level="WARNING")

    @server.tool(name="noop")
    async def noop(name: str, note: str = "") -> NoopResult:
        """echoes its note; does nothing else"""
        return NoopResult(echo=note)

    return server


class TimedSink:
    """Wraps the real ``AuditLog``: how long each durable append took, by event."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.ms: dict[str, list[float]] = defaultdict(list)

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
        started = time.perf_counter()
        seq = await self.log.append(record, inline=inline)
        self.ms[str(record.get("event"))].append((time.perf_counter() - started) * 1000)
        return seq


async def _timed_calls(client: Client, calls: int, warmup: int) -> list[float]:
    timings: list[float] = []
    with anyio.fail_after(DEADLINE_S):
        for index in range(calls + warmup):
            started = time.perf_counter()
            result = await client.call_tool("noop", ARGS)
            elapsed = (time.perf_counter() - started) * 1000
            if result.is_error:
                raise RuntimeError(f"bench call failed: {result.content}")
            if index >= warmup:
                timings.append(elapsed)
    return timings


async def measure_baseline(mode: str, calls: int, warmup: int) -> list[float]:
    async with Client(baseline_server(), mode=mode) as client:  # type: ignore[arg-type]
        return await _timed_calls(client, calls, warmup)


async def measure_guarded(
    folder: Path, mode: str, calls: int, warmup: int, profile: cProfile.Profile | None = None
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]], bool]:
    """Latencies, stage_ms per stage (from the audit records), append ms per event, verify ok."""
    data = bench_config_data(folder)
    config = parse_config(data, folder)
    key = load_key(BENCH_KEY_ENV, None, {BENCH_KEY_ENV: BENCH_KEY})
    log = AuditLog(config.audit_path, key=key, fsync="group")
    await log.open()
    sink = TimedSink(log)
    try:
        async with open_runtime(
            config, transport="memory", audit_sink=sink, sandbox=None, tools={"noop": NOOP_SPEC}
        ) as rt:
            async with Client(rt.server, mode=mode) as client:  # type: ignore[arg-type]
                await _timed_calls(client, 0, warmup)
                sink.ms.clear()
                if profile is not None:
                    profile.enable()
                try:
                    timings = await _timed_calls(client, calls, 0)
                finally:
                    if profile is not None:
                        profile.disable()
    finally:
        await log.close()
    stages: dict[str, list[float]] = defaultdict(list)
    with open(config.audit_path, "rb") as handle:
        executed = [r for r in map(json.loads, handle) if r.get("event") == "executed"]
    for record in executed[-calls:]:
        for name, ms in record["stage_ms"].items():
            stages[name].append(ms)
    ok = verify_log(config.audit_path, key).ok
    return timings, dict(stages), dict(sink.ms), ok


def _stage_line(stages: dict[str, list[float]], appends: dict[str, list[float]]) -> str:
    parts = [f"{name} {median(values):.3f}" for name, values in stages.items()]
    parts.extend(f"append({event}) {median(values):.3f}" for event, values in appends.items())
    return ", ".join(parts)


async def run(calls: int = 2000, warmup: int = 200, profile_to: Path | None = None) -> list[Row]:
    """Rows for the table: per era, baseline vs guarded (disk) vs guarded (tmpfs audit)."""
    os.environ.setdefault(BENCH_KEY_ENV, BENCH_KEY)
    rows: list[Row] = []
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # noqa: S108 - tmpfs, on purpose
    for mode, era in (("auto", "2026-07-28"), ("legacy", "2025-11-25")):
        base = await measure_baseline(mode, calls, warmup)
        with tempfile.TemporaryDirectory(prefix="overhead-bench-") as tmp:
            timings, stages, appends, ok = await measure_guarded(Path(tmp), mode, calls, warmup)
        if profile_to is not None and mode == "auto":
            # A separate run under the profiler: its timings are inflated and not reported.
            profile = cProfile.Profile()
            with tempfile.TemporaryDirectory(prefix="overhead-bench-") as tmp:
                await measure_guarded(Path(tmp), mode, calls, warmup, profile)
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            profile_to.parent.mkdir(parents=True, exist_ok=True)
            profile_to.write_text(out.getvalue())
        shm_row = None
        if shm is not None:
            with tempfile.TemporaryDirectory(prefix="overhead-bench-", dir=shm) as tmp:
                shm_timings, shm_stages, shm_appends, shm_ok = await measure_guarded(Path(tmp), mode, calls, warmup)
            shm_row = (shm_timings, shm_stages, shm_appends, shm_ok)
        b50, b99 = median(base), pct(base, 0.99)
        g50, g99 = median(timings), pct(timings, 0.99)
        rows.append(
            Row("overhead", f"{era}: unguarded MCPServer", {"calls": calls, "p50 ms": b50, "p99 ms": b99})
        )
        added = g50 - b50
        rows.append(
            Row(
                "overhead",
                f"{era}: full pipeline, audit fsync on disk",
                {"calls": calls, "p50 ms": g50, "p99 ms": g99, "added p50 ms": added, "added p99 ms": g99 - b99},
                target="added p50 <= 1 ms",
                verdict=("met" if added <= 1.0 else "missed") + ("" if ok else "; VERIFY FAILED"),
                extra={"stage_p50_ms": {k: median(v) for k, v in stages.items()},
                       "append_p50_ms": {k: median(v) for k, v in appends.items()},
                       "stages": _stage_line(stages, appends)},
            )
        )
        if shm_row is not None:
            s_timings, s_stages, s_appends, s_ok = shm_row
            s50 = median(s_timings)
            rows.append(
                Row(
                    "overhead",
                    f"{era}: full pipeline, audit on tmpfs (CPU cost only)",
                    {"calls": calls, "p50 ms": s50, "p99 ms": pct(s_timings, 0.99), "added p50 ms": s50 - b50,
                     "added p99 ms": pct(s_timings, 0.99) - b99},
                    verdict="" if s_ok else "VERIFY FAILED",
                    extra={"stage_p50_ms": {k: median(v) for k, v in s_stages.items()},
                           "append_p50_ms": {k: median(v) for k, v in s_appends.items()},
                           "stages": _stage_line(s_stages, s_appends)},
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--profile", type=Path, help="write a cProfile report of the guarded 2026 run here")
    args = parser.parse_args()
    rows = asyncio.run(run(max(10, min(args.calls, 100_000)), profile_to=args.profile))
    for row in rows:
        print(row.case, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.figures.items()}, row.verdict)
        if row.extra.get("stages"):
            print("   stage p50 ms:", row.extra["stages"])


if __name__ == "__main__":
    main()
