"""Audit log throughput: durable records per second, HMAC on, 50 concurrent appenders.

Run: ``/work/venv/bin/python bench/audit_bench.py [--records N] [--concurrency C]``.
Prints one table: raw fsync rate of this disk (context), then per-record fsync ("always") and group
commit ("group"). Every mode writes to a fresh temporary folder that is removed afterwards; each run
is bounded by its record count and a 120 s time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from common import Row

from secure_mcp.audit import AuditLog, verify_log

KEY = b"bench-audit-key-0123456789abcdef"
RECORD = {
    "event": "executed",
    "call_id": "0f3c2a9e4b7d4c1e",
    "tool": "run_command",
    "duration_ms": 12.5,
    "exit_code": 0,
    "timed_out": False,
    "output_bytes": 1234,
    "output_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "redactions": [{"kind": "aws_access_key", "count": 1}],
    "warnings": [],
    "is_error": False,
}


def raw_fsync_rate(folder: Path, count: int = 2000) -> float:
    """One 300-byte write plus fdatasync per record, no Python log around it: the disk's ceiling."""
    fd = os.open(folder / "raw", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"x" * 299 + b"\n")
            os.fdatasync(fd)
        return count / (time.perf_counter() - start)
    finally:
        os.close(fd)


async def run_mode(folder: Path, mode: str, records: int, concurrency: int) -> tuple[float, float, bool]:
    """Records/s and mean append latency (ms) for ``records`` appends from ``concurrency`` tasks."""
    path = folder / mode / "audit.jsonl"
    log = AuditLog(path, key=KEY, fsync=mode)  # type: ignore[arg-type]
    await log.open()
    per_task = records // concurrency
    latencies: list[float] = []

    async def worker(task: int) -> None:
        for index in range(per_task):
            start = time.perf_counter()
            await log.append({**RECORD, "task": task, "n": index})
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker(task) for task in range(concurrency))), timeout=120)
    elapsed = time.perf_counter() - start
    await log.close()
    ok = verify_log(path, KEY).ok
    return per_task * concurrency / elapsed, 1000 * sum(latencies) / len(latencies), ok


def run(records: int = 30_000, always_records: int = 5_000, concurrency: int = 50) -> list[Row]:
    """Rows for the table: the disk's raw fdatasync rate, then both writer modes."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        folder = Path(tmp)
        raw = raw_fsync_rate(folder)
        rows.append(Row("audit", "raw write+fdatasync, 1 writer, no log (disk ceiling)", {"records/s": raw}))
        for mode, count in (("always", always_records), ("group", records)):
            rate, latency, ok = asyncio.run(run_mode(folder, mode, count, concurrency))
            rows.append(
                Row(
                    "audit",
                    f"AuditLog fsync={mode}, HMAC, {concurrency} concurrent appenders",
                    {"records": count, "records/s": rate, "mean ms": latency},
                    ">= 20,000 records/s" if mode == "group" else "",
                    ("met" if rate >= 20_000 else "missed") if mode == "group" else "",
                )
            )
            if not ok:
                rows[-1].verdict += " VERIFY FAILED"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--always-records", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    for row in run(args.records, args.always_records, args.concurrency):
        print(f"{row.case:<58}", {k: round(v, 2) if isinstance(v, float) else v for k, v in row.figures.items()},
              row.verdict)


if __name__ == "__main__":
    main()
