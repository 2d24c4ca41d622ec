"""Redaction of output that arrives in chunks.

A secret may be split across two chunks, so the stream holds back a tail of ``HOLD`` bytes: every
pattern decides within that many bytes of where a match starts, so text before the tail is final
and safe to emit. A match that is still open at the cut (a private key block whose footer has not
arrived) keeps everything from its start in the buffer. The buffer is bounded by ``MAX_BUFFER``;
past it the open match is emitted as its marker and the rest of that secret is swallowed when it
arrives (fail closed: the stream loses a little text rather than leak).

Re-scanning only happens once ``HOLD`` new bytes have accumulated, and the buffer is a bytearray
that chunks are appended to in place (``bytes +=`` copied the whole buffer, up to ``MAX_BUFFER``,
for every chunk), so the total work stays linear in the stream length even for one-byte chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import re2

from .detectors.generic import PRIVATE_KEY
from .engine import Hit

HOLD = 8192
MAX_BUFFER = 256 << 10

# What may follow a secret that was cut off at MAX_BUFFER and still belongs to it.
_PEM_REST = re2.compile(
    r"(?:[A-Za-z0-9+/=:,. \t\r\n]|\\[rn]|-[A-Za-z0-9+/=:,. \t\r\n])*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:[A-Za-z0-9+/=]|\r?\n|(?:\\r)?\\n)*"
)
_TOKEN_REST = re2.compile(r"""[^\s"'<>,;]*""")


def _char_boundary(data: bytes, cut: int) -> int:
    # Never split a UTF-8 sequence: step back over continuation bytes (10xxxxxx).
    while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


class HitSource(Protocol):
    """What the stream needs of a ``Redactor``: find the masks in a buffer and apply them.

    A protocol rather than an import of ``Redactor``, so that the dependency runs one way
    (``redactor`` -> ``stream``) and neither module needs the other half-initialised.
    """

    def hits(self, data: bytes) -> Iterable[Hit]: ...

    def apply(self, data: bytes, hits: Iterable[Hit], start: int, end: int, counts: dict[str, int]) -> str: ...


class StreamRedactor:
    """Redacts one stream; ``feed`` chunks as they come, then call ``finish`` once.

    ``counts`` holds the kinds masked in the text emitted so far.
    """

    def __init__(self, redactor: HitSource) -> None:
        self._redactor = redactor
        self._buffer = bytearray()
        self._open_kind: str | None = None
        self._fresh = 0  # bytes added since the last scan
        self.counts: dict[str, int] = {}

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the redacted text that is final now (possibly empty)."""
        data = chunk.encode("utf-8", "surrogatepass")
        self._buffer += data
        self._fresh += len(data)
        if self._open_kind is not None:
            self._swallow_rest()
        # Scan only after HOLD new bytes: one-byte chunks must not mean one scan per byte.
        if len(self._buffer) < 2 * HOLD or self._fresh < HOLD:
            return ""
        return self._emit(final=False)

    def finish(self) -> str:
        """Return the rest of the stream, redacted. The redactor is spent afterwards."""
        if self._open_kind is not None:
            self._swallow_rest()
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> str:
        data = bytes(self._buffer)
        self._fresh = 0
        hits = list(self._redactor.hits(data))
        cut = len(data) if final else _char_boundary(data, len(data) - HOLD)
        for hit in hits:
            if hit.start < cut < hit.end or (not final and hit.start < cut and hit.end == len(data)):
                cut = hit.start
                break
        forced_open: str | None = None
        if cut == 0 and not final and len(data) >= MAX_BUFFER:
            # One match spans the whole buffer: emit it masked and swallow its continuation later.
            cut = len(data)
            last = hits[-1] if hits else None
            if last is not None and last.end == len(data):
                forced_open = last.masks[-1][2]
        emitted = [h for h in hits if h.end <= cut]
        text = self._redactor.apply(data, emitted, 0, cut, self.counts)
        self._buffer = bytearray(data[cut:])
        self._open_kind = forced_open
        return text

    def _swallow_rest(self) -> None:
        pattern = _PEM_REST if self._open_kind == PRIVATE_KEY.name else _TOKEN_REST
        match = pattern.match(bytes(self._buffer))
        consumed = match.end() if match is not None else 0
        if consumed < len(self._buffer) or len(self._buffer) > HOLD:
            # The secret ended inside this buffer (or cannot be told apart any longer): stop here.
            del self._buffer[:consumed]
            self._open_kind = None
        else:
            self._buffer.clear()
