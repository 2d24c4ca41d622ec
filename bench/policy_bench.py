"""judge_command latency: the command policy on typical agent commands, and on the benign table.

``python bench/policy_bench.py`` or ``make bench`` (bench name ``policy``). In-process, no Docker:
each command is judged ``runs`` times after a warm-up, timed with ``time.perf_counter``. Target
(issue 14): p50 over the typical commands <= 1 ms.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import Row, pct  # noqa: E402

from secure_mcp.command_policy import CommandPolicy, judge_command  # noqa: E402
from secure_mcp.config import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TYPICAL = [
    "ls -la",
    "cat README.md | grep -n TODO | head -5",
    "python3 script.py --flag value",
    "echo $(ls | wc -l) > count.txt 2>&1",
    "find . -name '*.py' -exec grep -l asyncio {} +",
    "cd src && ls && echo done",
    "cat <<EOF > notes.txt\nhello $(date)\nEOF",
    "git log --oneline -20",
    "[[ -f pyproject.toml ]] && python3 -m pytest -q",
    "for f in *.py; do case $f in test_*) echo $f;; esac; done",
]


def _policy() -> CommandPolicy:
    settings = load_config(REPO / "config.toml").tools.run_command
    lists = (frozenset(settings.allow), frozenset(settings.confirm), frozenset(settings.deny))
    return CommandPolicy(*lists, settings.unknown)


def _benign() -> list[str]:
    text = (REPO / "tests" / "command_policy" / "benign_commands.txt").read_text()
    return [b.strip("\n") for b in text.split("\n%%\n")[1:] if b.strip()]


def _times(commands: list[str], policy: CommandPolicy, runs: int) -> list[float]:
    for command in commands:
        judge_command(command, policy)
    samples: list[float] = []
    for _ in range(runs):
        for command in commands:
            start = time.perf_counter()
            judge_command(command, policy)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def run(runs: int = 300) -> list[Row]:
    policy = _policy()
    typical = _times(TYPICAL, policy, runs)
    benign = _times(_benign(), policy, max(5, runs // 30))
    p50 = pct(typical, 0.5)
    return [
        Row(
            "policy",
            f"judge_command, {len(TYPICAL)} typical commands x {runs}",
            {"p50 ms": p50, "p95 ms": pct(typical, 0.95), "max ms": max(typical)},
            target="p50 <= 1 ms",
            verdict="ok" if p50 <= 1.0 else "over",
        ),
        Row(
            "policy",
            f"judge_command over the benign table ({len(_benign())} commands)",
            {"p50 ms": pct(benign, 0.5), "p95 ms": pct(benign, 0.95), "max ms": max(benign)},
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row.case, row.figures, row.target, row.verdict)
