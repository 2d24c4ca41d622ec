"""Shared helpers for the benchmarks: percentiles, the machine description, result rows, configs."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_KEY_ENV = "SECURE_MCP_BENCH_AUDIT_KEY"
BENCH_KEY = "bench-audit-key-0123456789abcdef-not-a-secret"

# Generous limits so the rate limiter, which still runs on every call, never refuses a bench call.
BENCH_LIMITS = {"calls_per_minute": 100_000, "burst": 10_000, "max_concurrent_sandboxes": 64}


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python, kernel: printed above every table."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_gib, 1),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "os": platform.system(),
    }


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS``), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Row:
    """One line of the printed table."""

    bench: str
    case: str
    figures: dict[str, Any]
    target: str = ""
    verdict: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def fmt_ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def bench_config_data(root: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config as a dict: workspace and audit under ``root``, HMAC key from the bench env variable."""
    data: dict[str, Any] = {
        "workspace": {"root": str(root / "workspace")},
        "audit": {"path": str(root / "audit" / "audit.jsonl"), "key_env": BENCH_KEY_ENV, "fsync": "group"},
        "limits": dict(BENCH_LIMITS),
    }
    for key, value in (overrides or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for the bench configs: tables of scalars, lists of strings, nested tables."""

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(value, list):
            return "[" + ", ".join(scalar(item) for item in value) + "]"
        raise TypeError(f"cannot write {type(value).__name__} to TOML")

    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any]) -> None:
        plain = {k: v for k, v in body.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in body.items() if isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in plain.items())
        lines.append("")
        for name, sub in nested.items():
            table(f"{prefix}.{name}" if prefix else name, sub)

    table("", data)
    return "\n".join(lines)
