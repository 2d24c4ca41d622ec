"""Every pattern stays linear on crafted input: no catastrophic backtracking is possible."""

from __future__ import annotations

import time

import pytest

from secure_mcp.redaction.detectors import REGISTRY
from secure_mcp.redaction.engine import compile_one

from .samples import CASES

MB = 1 << 20
BOUND_S = 0.5  # generous for slow CI; the bench records the real per-pattern figure
_RULES = [(d.name, i, r.pattern) for d in REGISTRY.values() for i, r in enumerate(d.rules)]


def crafted_inputs(kind: str) -> list[bytes]:
    """Inputs that would make a backtracking engine stall: near-matches repeated to 1 MB."""
    text, secret, near = CASES[kind]
    seeds = [text[: max(1, len(text) // 2)], secret[:-1], near, text.replace("\n", " ")[:-1], "a:", "=", "\\n"]
    seeds += ["password=" * 3, "-----BEGIN PRIVATE KEY-----\n", "eyJ" + "a" * 20 + ".", "x://a:" + "b" * 50]
    return [(seed * (MB // len(seed) + 1)).encode()[:MB] for seed in seeds]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "index", "pattern"), _RULES, ids=[f"{k}-{i}" for k, i, _ in _RULES])
def test_pattern_scans_one_megabyte_of_crafted_input_in_bounded_time(kind: str, index: int, pattern: str) -> None:
    """1 MB of repeated near-matches is scanned in well under half a second per input."""
    regex = compile_one(pattern)
    for data in crafted_inputs(kind):
        started = time.process_time()  # CPU time: other jobs on a shared machine do not count
        for _ in regex.finditer(data):
            pass
        assert time.process_time() - started < BOUND_S


@pytest.mark.slow
@pytest.mark.parametrize(
    "line",
    [
        "password=None\n",  # a rejected candidate at the start of every base64-looking line
        "TOKEN=abc\n",
        "-ImFsZy.aa.b-xoxb-123-",  # the JWT anchor and other tokens inside one long run
        "AAAAAAAAAAAAAAAAAAAA\n",
    ],
)
def test_whole_redactor_stays_linear_on_many_candidates(line: str) -> None:
    """8x the input costs about 8x the CPU time, not 64x (anchoring on literals, issue 17).

    A pattern that starts with an open run (base64 lines before an END line, a JWT header before
    its "alg") kept RE2's leftmost search alive across every such run, re-scanned once per
    candidate: quadratic. Measured in CPU time so a loaded machine does not skew the ratio.
    """
    from secure_mcp.redaction import Redactor

    redactor = Redactor()

    def cpu(size: int) -> float:
        text = (line * (size // len(line) + 1))[:size]
        started = time.process_time()
        redactor.redact(text)
        return time.process_time() - started

    cpu(16 << 10)  # warm the DFA caches
    small, large = min(cpu(32 << 10) for _ in range(2)), min(cpu(256 << 10) for _ in range(2))
    assert large < 16 * max(small, 0.002)
