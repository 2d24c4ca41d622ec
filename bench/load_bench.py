"""Under load over streamable HTTP on loopback: secure-mcp vs the unguarded SDK server, same run.

Run alone: ``/work/venv/bin/python bench/load_bench.py [--clients 20] [--calls 200] [--py-calls 10]``.

* Starts the real ``secure-mcp serve --transport streamable-http`` on 127.0.0.1 (``[auth] disabled =
  true``, a high rate limit so the limiter runs but never refuses, HMAC audit with group commit in a
  temporary folder, warm pool 2) and ``bench/_baseline_server.py`` (the SDK's ``MCPServer`` with an
  unguarded ``write_file`` doing the same file work), each in its own process.
* ``clients`` concurrent ``mcp.Client`` sessions (2026-07-28 era), each making ``calls``
  ``write_file`` calls (exclusive create of a small new file), against the baseline and then twice
  against secure-mcp (two consecutive runs, for memory growth); then ``execute_python("print(1)")``
  with ``py-calls`` per client, to show where the sandbox (``max_concurrent = 4``) caps concurrency.
* Resident memory (VmRSS) of each server: idle, after each run.
* Afterwards, with the server stopped: every call answered, exactly one ``call_received`` and one
  ``executed`` record per call id, and ``secure-mcp audit verify`` exits 0.

All load goes to 127.0.0.1; each run is bounded by its call count and a deadline; both server
processes are terminated in ``finally``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import anyio
from common import BENCH_KEY, BENCH_KEY_ENV, Row, bench_config_data, median, pct, rss_kib, to_toml
from mcp import Client

HERE = Path(__file__).resolve().parent
SECURE_MCP = Path(sys.executable).with_name("secure-mcp")
RUN_DEADLINE_S = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become healthy in {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def _load(url: str, clients: int, calls: int, tool: str, make_args: Any) -> dict[str, Any]:
    """``clients`` sessions connect, then all start together; per-call latency and wall time."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    answered = 0
    ready = 0
    go = anyio.Event()
    connected = anyio.Event()

    async def one(client_no: int) -> None:
        nonlocal answered, ready
        async with Client(url) as client:
            ready += 1
            if ready == clients:
                connected.set()
            await go.wait()
            for index in range(calls):
                started = time.perf_counter()
                result = await client.call_tool(tool, make_args(client_no, index))
                latencies.append((time.perf_counter() - started) * 1000)
                answered += 1
                if result.is_error:
                    text = result.content[0].text if result.content else "?"  # type: ignore[union-attr]
                    errors[text[:80]] += 1

    with anyio.fail_after(RUN_DEADLINE_S):
        async with anyio.create_task_group() as group:
            for number in range(clients):
                group.start_soon(one, number)
            await connected.wait()
            started = time.perf_counter()
            go.set()
        wall = time.perf_counter() - started
    return {
        "answered": answered,
        "expected": clients * calls,
        "wall_s": wall,
        "calls/s": answered / wall,
        "p50 ms": median(latencies),
        "p99 ms": pct(latencies, 0.99),
        "errors": dict(errors),
    }


def _audit_pairs(log: Path) -> dict[str, Any]:
    """How many calls have exactly one call_received and one executed record (all log files)."""
    files = sorted(log.parent.glob(log.name + ".[0-9]*"), key=lambda p: int(p.suffix[1:])) + [log]
    events: dict[str, Counter[str]] = defaultdict(Counter)
    for file in files:
        if not file.exists():
            continue
        with open(file, "rb") as handle:
            for line in handle:
                record = json.loads(line)
                if "call_id" in record:
                    events[record["call_id"]][record["event"]] += 1
    exact = sum(1 for c in events.values() if c["call_received"] == 1 and c["executed"] == 1 and len(c) == 2)
    return {"calls_in_log": len(events), "exact_pairs": exact}


def run(clients: int = 20, calls: int = 200, py_calls: int = 10) -> list[Row]:
    env = {**os.environ, BENCH_KEY_ENV: BENCH_KEY}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "baseline-ws").mkdir()
        data = bench_config_data(root, {"auth": {"disabled": True}, "sandbox": {"warm_pool": 2}})
        config_path = root / "config.toml"
        config_path.write_text(to_toml(data))
        base_port, guard_port = _free_port(), _free_port()
        base = subprocess.Popen(
            [sys.executable, str(HERE / "_baseline_server.py"), str(base_port), str(root / "baseline-ws")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        guard = subprocess.Popen(
            [str(SECURE_MCP), "serve", "--config", str(config_path), "--transport", "streamable-http",
             "--host", "127.0.0.1", "--port", str(guard_port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            _wait_healthy(base_port, base)
            _wait_healthy(guard_port, guard)
            time.sleep(2)  # the warm pool fills
            mem = {"baseline idle": rss_kib(base.pid), "secure-mcp idle": rss_kib(guard.pid)}

            def write_args(run_no: int) -> Any:
                return lambda c, i: {"path": f"r{run_no}-c{c}-{i}.txt", "content": f"load test {c} {i}\n"}

            for port in (base_port, guard_port):  # warm-up, not measured: first connections, first files
                warm = anyio.run(_load, f"http://127.0.0.1:{port}/mcp", clients, 5, "write_file", write_args(9))
            # Interleaved (baseline, secure-mcp, baseline, secure-mcp) so drift hits both alike.
            b1 = anyio.run(_load, f"http://127.0.0.1:{base_port}/mcp", clients, calls, "write_file", write_args(0))
            g1 = anyio.run(_load, f"http://127.0.0.1:{guard_port}/mcp", clients, calls, "write_file", write_args(1))
            mem["secure-mcp after run 1"] = rss_kib(guard.pid)
            b2 = anyio.run(_load, f"http://127.0.0.1:{base_port}/mcp", clients, calls, "write_file", write_args(2))
            mem["baseline after run"] = rss_kib(base.pid)
            g2 = anyio.run(_load, f"http://127.0.0.1:{guard_port}/mcp", clients, calls, "write_file", write_args(2))
            mem["secure-mcp after run 2"] = rss_kib(guard.pid)
            py = anyio.run(
                _load, f"http://127.0.0.1:{guard_port}/mcp", clients, py_calls, "execute_python",
                lambda c, i: {"code": "print(1)", "timeout_s": 30},
            )
            mem["secure-mcp after execute_python"] = rss_kib(guard.pid)
        finally:
            _stop(guard)
            _stop(base)
        pairs = _audit_pairs(root / "audit" / "audit.jsonl")
        verify = subprocess.run(
            [str(SECURE_MCP), "audit", "verify", "--config", str(config_path)],
            env=env, capture_output=True, text=True, timeout=300,
        )
    total = warm["expected"] + g1["expected"] + g2["expected"] + py["expected"]  # warm: the guarded warm-up
    answered = warm["answered"] + g1["answered"] + g2["answered"] + py["answered"]
    lost_ok = answered == total and pairs["exact_pairs"] == total and pairs["calls_in_log"] == total
    b = {
        "answered": b1["answered"] + b2["answered"],
        "calls/s": (b1["calls/s"] + b2["calls/s"]) / 2,
        "p50 ms": (b1["p50 ms"] + b2["p50 ms"]) / 2,
        "p99 ms": max(b1["p99 ms"], b2["p99 ms"]),
        "errors": {**b1["errors"], **b2["errors"]},
    }
    shape = f"{clients}x{calls}"

    def fig(result: dict[str, Any]) -> dict[str, Any]:
        return {
            "calls": result["answered"], "calls/s": result["calls/s"], "p50 ms": result["p50 ms"],
            "p99 ms": result["p99 ms"], "errors": sum(result["errors"].values()),
        }

    rows.append(Row("load", f"HTTP {shape} write_file: unguarded MCPServer (mean of 2 runs)", fig(b)))
    for name, result in (("run 1", g1), ("run 2", g2)):
        figures = fig(result)
        figures["% of baseline"] = 100 * result["calls/s"] / b["calls/s"]
        rows.append(
            Row("load", f"HTTP {shape} write_file: secure-mcp serve, {name}", figures, ">= 70% of baseline",
                "met" if result["calls/s"] >= 0.7 * b["calls/s"] else "missed", {"errors": result["errors"]})
        )
    rows.append(
        Row("load", f"HTTP {clients}x{py_calls} execute_python print(1): secure-mcp (pool 2, max_concurrent 4)",
            fig(py), "", "", {"errors": py["errors"]})
    )
    rows.append(
        Row(
            "load",
            "nothing lost: answered / audit pairs / verify",
            {"calls": total, "answered": answered, "exact pairs": pairs["exact_pairs"],
             "verify exit": verify.returncode},
            "all answered, 1 pair each, verify 0",
            "met" if lost_ok and verify.returncode == 0 else "missed",
            {"verify": verify.stdout.strip()},
        )
    )
    growth = mem["secure-mcp after run 2"] - mem["secure-mcp after run 1"]
    rows.append(
        Row("memory", "RSS MiB: baseline idle / after run", {
            "idle": mem["baseline idle"] / 1024, "after run": mem["baseline after run"] / 1024})
    )
    rows.append(
        Row(
            "memory",
            "RSS MiB: secure-mcp idle / run 1 / run 2 / after execute_python",
            {"idle": mem["secure-mcp idle"] / 1024, "run 1": mem["secure-mcp after run 1"] / 1024,
             "run 2": mem["secure-mcp after run 2"] / 1024,
             "after py": mem["secure-mcp after execute_python"] / 1024, "run1->run2 MiB": growth / 1024},
            "no growth run 1 -> run 2 beyond noise (< 2 MiB)",
            "met" if growth < 2048 else "missed",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--py-calls", type=int, default=10)
    args = parser.parse_args()
    rows = run(max(1, min(args.clients, 100)), max(1, min(args.calls, 2000)), max(1, min(args.py_calls, 100)))
    for row in rows:
        print(row.case, {k: round(v, 2) if isinstance(v, float) else v for k, v in row.figures.items()}, row.verdict)
        if row.extra:
            print("   ", row.extra)


if __name__ == "__main__":
    main()
