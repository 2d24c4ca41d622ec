"""Detection and false-positive rates on the labelled corpus, with floors."""

from __future__ import annotations

import json
from pathlib import Path

from secure_mcp.injection import scan

CORPUS = Path(__file__).parent / "corpus"
DETECTION_FLOOR = 0.95
FALSE_POSITIVE_CEILING = 0.05


def _load(name: str) -> list[str]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def test_corpus_has_at_least_100_samples_of_each_label() -> None:
    """The measurement is only meaningful on a corpus of the promised size."""
    assert len(_load("injection.jsonl")) >= 100
    assert len(_load("benign.jsonl")) >= 100


def test_detection_rate_meets_floor() -> None:
    """At least 95% of the injection samples (plain and obfuscated) raise a finding."""
    samples = _load("injection.jsonl")
    detected = sum(1 for text in samples if scan(text))
    assert detected / len(samples) >= DETECTION_FLOOR


def test_false_positive_rate_stays_under_ceiling() -> None:
    """At most 5% of benign technical texts that use the same words raise a finding."""
    samples = _load("benign.jsonl")
    flagged = sum(1 for text in samples if scan(text))
    assert flagged / len(samples) <= FALSE_POSITIVE_CEILING
