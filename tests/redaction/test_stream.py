"""Streaming redaction: secrets split across chunks are still masked; memory stays bounded."""

from __future__ import annotations

import pytest

from secure_mcp.redaction import Redactor
from secure_mcp.redaction.stream import HOLD, MAX_BUFFER

from .samples import CASES, GH, PEM

REDACTOR = Redactor()


def _run(chunks: list[str]) -> tuple[str, dict[str, int]]:
    stream = REDACTOR.stream()
    out = [stream.feed(c) for c in chunks]
    out.append(stream.finish())
    return "".join(out), stream.counts


@pytest.mark.parametrize("size", [1, 7, 64, 4096, 20000])
def test_secrets_split_at_every_chunk_size_are_masked(size: int) -> None:
    """Whatever the chunking, the output equals one-shot redaction."""
    text = ("filler line of output\n" * 500).join(t for t, _, _ in CASES.values()) * 2
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    streamed, counts = _run(chunks)
    whole = REDACTOR.redact(text)
    assert streamed == whole.text
    assert counts == dict(whole.counts)


def test_feed_emits_before_finish_and_holds_a_bounded_tail() -> None:
    """Long output flows out while it arrives; only a bounded tail waits."""
    stream = REDACTOR.stream()
    emitted = stream.feed("x" * (5 * HOLD))
    assert len(emitted) >= 3 * HOLD
    assert len(emitted) + len(stream.finish()) == 5 * HOLD


def test_private_key_longer_than_the_buffer_leaks_nothing() -> None:
    """A key block bigger than MAX_BUFFER is emitted as a marker and its remainder swallowed."""
    body = ("QUJDRA==" * 8 + "\n") * (MAX_BUFFER // 72 + 200)
    text = "start\n" + PEM.split("\n")[0] + "\n" + body + "-----END RSA PRIVATE KEY-----\nend\n"
    chunks = [text[i : i + 65536] for i in range(0, len(text), 65536)]
    streamed, counts = _run(chunks)
    assert "QUJDRA==" not in streamed
    assert streamed.startswith("start\n[REDACTED:private_key]")
    assert streamed.endswith("end\n")
    assert counts == {"private_key": 1}


def test_multibyte_characters_are_never_split() -> None:
    """The cut point respects UTF-8 boundaries, so non-ASCII output survives intact."""
    text = ("é漢字🙂" * 5000) + GH
    streamed, _ = _run([text[i : i + 333] for i in range(0, len(text), 333)])
    assert streamed == ("é漢字🙂" * 5000) + "[REDACTED:github_token]"
