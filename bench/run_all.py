"""Every benchmark, one command, one table: ``make bench`` or ``/work/venv/bin/python bench/run_all.py``.

Options:
    --quick            fewer calls everywhere (a smoke run, about a minute; figures are noisier)
    --only a,b         run only these benches: overhead, load, sandbox, effects, audit, approvals, policy, redaction
    --profile          also write a cProfile report of the guarded per-call loop to bench/results/
    --no-save          do not write bench/results/latest.{json,md}

Benches:
    overhead   full pipeline vs unguarded MCPServer, in-process, both protocol eras, >= 1,000 calls
    load       streamable HTTP on loopback, 20 clients x 200 calls, vs unguarded; memory; nothing lost
    sandbox    execute_python("print(1)") through an MCP client: cold vs warm pool vs back-to-back
    effects    run_command on copy-on-write layers: warm echo hi vs 0.1, bursts, 1,000 changed
               files, a no-change call in a 100,000-file workspace (needs CAP_SYS_ADMIN)
    audit      durable records/s with HMAC: per-record fsync vs group commit, 50 appenders
    approvals  approve API call (the console's Approve button) -> result at the client, both eras
    policy     judge_command latency on typical agent commands (p50 <= 1 ms) and on the benign table
    redaction  redaction throughput on 2 MiB of generated text (not in the default set: it has its
               own script, bench/redaction_bench.py, comparing against detect-secrets)

``load`` and ``sandbox`` need Docker and the sandbox image (``secure-mcp sandbox build --offline``).
All load goes to 127.0.0.1; every loop is bounded in count and time; every server process and
container is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT = ("overhead", "load", "sandbox", "effects", "audit", "approvals", "policy")
ALL = (*DEFAULT, "redaction")


def _redaction_rows(quick: bool) -> list[Row]:
    import redaction_bench as rb

    text, _, planted = rb.build(int((0.5 if quick else 2) * rb.MIB), 50)
    mib = len(text.encode()) / rb.MIB
    redactor = rb.Redactor()
    redactor.redact(text[:100000])
    seconds = rb.best_of(lambda: redactor.redact(text))
    return [
        Row("redaction", f"Redactor.redact on {mib:.1f} MiB mixed text, {len(planted)} secrets",
            {"MiB/s": mib / seconds}),
        Row("redaction", "injection scan (sanitize) on mixed-script text", {"MiB/s": rb.sanitize_speed(2 * rb.MIB)}),
    ]


def run_bench(name: str, quick: bool, profile: bool) -> list[Row]:
    if name == "overhead":
        import overhead_bench

        calls = 1000 if quick else 2000
        prof = RESULTS / "profile_overhead.txt" if profile else None
        return asyncio.run(overhead_bench.run(calls=calls, warmup=100 if quick else 200, profile_to=prof))
    if name == "load":
        import load_bench

        return load_bench.run(clients=20, calls=50 if quick else 200, py_calls=3 if quick else 10)
    if name == "sandbox":
        import anyio
        import sandbox_bench

        return anyio.run(sandbox_bench.run, 10 if quick else 30)
    if name == "effects":
        import anyio
        import effects_bench

        return anyio.run(effects_bench.run, 10 if quick else 30)
    if name == "audit":
        import audit_bench

        return audit_bench.run(records=10_000 if quick else 30_000, always_records=2_000 if quick else 5_000)
    if name == "redaction":
        return _redaction_rows(quick)
    if name == "approvals":
        import anyio
        import approvals_bench

        return anyio.run(approvals_bench.run, 10 if quick else 30)
    if name == "policy":
        import policy_bench

        return policy_bench.run(runs=100 if quick else 300)
    raise SystemExit(f"unknown bench {name!r}; choose from {', '.join(ALL)}")


def _value(value: Any) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    return str(value)


def render(rows: list[Row], info: dict[str, Any], elapsed: float, as_markdown: bool) -> str:
    head = (
        f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB RAM, "
        f"Python {info['python']}, {info['os']} {info['kernel']}; run took {elapsed:.0f} s"
    )
    table = [(r.bench, r.case, "  ".join(f"{k} {_value(v)}" for k, v in r.figures.items()), r.target, r.verdict)
             for r in rows]
    if as_markdown:
        lines = [head, "", "| bench | case | figures | target | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {b} | {c} | {f} | {t} | {v} |" for b, c, f, t, v in table]
        stage_rows = [r for r in rows if r.extra.get("stages")]
        if stage_rows:
            note = "Time per stage (p50, ms, from each call's audit `stage_ms`; appends timed around the sink):"
            lines += ["", note, ""]
            lines += [f"- {r.case}: {r.extra['stages']}" for r in stage_rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    lines = [head, ""]
    for b, c, f, t, v in table:
        tail = f"  [{t}: {v}]" if t else (f"  [{v}]" if v else "")
        lines.append(f"{b:<{widths[0]}}  {c:<{widths[1]}}  {f}{tail}")
    for r in rows:
        if r.extra.get("stages"):
            lines.append(f"  stages p50 ms ({r.case}): {r.extra['stages']}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(ALL)}")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(DEFAULT)
    unknown = [n for n in chosen if n not in ALL]
    if unknown:
        parser.error(f"unknown bench(es) {unknown}; choose from {', '.join(ALL)}")
    info = machine()
    started = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(run_bench(name, args.quick, args.profile))
        except Exception as exc:  # one bench failing (e.g. no Docker) must not hide the others
            rows.append(Row(name, "FAILED", {"error": f"{type(exc).__name__}: {exc}"[:200]}, verdict="error"))
    elapsed = time.perf_counter() - started
    print(render(rows, info, elapsed, as_markdown=False))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = {"when": stamp, "machine": info, "quick": args.quick, "benches": chosen,
                   "rows": [r.__dict__ for r in rows]}
        (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
        (RESULTS / "latest.md").write_text(f"Run {stamp}{' (--quick)' if args.quick else ''}\n\n"
                                           + render(rows, info, elapsed, as_markdown=True))
        print(f"written: {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}", file=sys.stderr)
    return 1 if any(r.verdict == "error" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
