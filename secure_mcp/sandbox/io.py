"""Reading a container's multiplexed attach stream with a hard cap on what is kept.

Docker frames a non-TTY stream as ``[stream, 0, 0, 0, size (4 bytes big-endian)]`` then ``size``
bytes. Frames are read in bounded chunks and anything past the cap is never stored, so a 200 MB
print costs the server at most ``cap`` bytes plus one chunk, whatever the frame header claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import struct
import threading

CHUNK = 64 * 1024
STDOUT, STDERR = 1, 2


TRAILER_PREFIX = b"\0secure-mcp-end:"
_STATUS_DIGITS = 10
#: The tracer's findings after the status (base64 JSON); report mode lists every exec of a batch.
MAX_META_BYTES = 16 * 1024 * 1024


def encode_request(
    kind: str,
    source: str,
    cwd: str,
    nonce: str = "",
    *,
    approved: tuple[str, ...] | None = None,
    exec_mode: str = "enforce",
) -> bytes:
    """The runner's wire format: 4-byte big-endian length, then JSON."""
    request: dict[str, object] = {"kind": kind, "source": source, "cwd": cwd, "nonce": nonce, "exec_mode": exec_mode}
    if approved is not None:
        request["approved"] = list(approved)
    body = json.dumps(request).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _parse_tail(tail: bytes) -> tuple[int, dict[str, object] | None] | None:
    """``<status>`` or ``<status>:<base64 JSON object>``; None when it is not a trailer after all."""
    digits, _, payload = tail.partition(b":")
    if not digits.isdigit() or len(digits) > _STATUS_DIGITS:
        return None
    if not payload:
        return int(digits), None
    try:
        meta = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return None
    return (int(digits), meta) if isinstance(meta, dict) else None


class _Trailer:
    """Finds the runner's end-of-stream trailer in one stream without ever storing its bytes.

    Up to one trailer's length of the stream is held back until it is clear it is not the start of
    the trailer, so a trailer split across frames is still found and never shown as output.
    """

    def __init__(self, nonce: str) -> None:
        self._mark = TRAILER_PREFIX + nonce.encode("ascii") + b":"
        self._hold = bytearray()
        self.status: int | None = None
        self.meta: dict[str, object] | None = None

    def feed(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` (with what was held) that is output; sets ``status`` at the trailer."""
        if self.status is not None:
            return b""  # the code has finished: later bytes come from leftover background processes
        data = bytes(self._hold) + chunk
        self._hold = bytearray()
        at = data.find(self._mark)
        if at >= 0:
            rest = data[at + len(self._mark) :]
            end = rest.find(b"\0")
            if end < 0:
                if len(rest) <= MAX_META_BYTES:  # the trailer may still be arriving
                    self._hold = bytearray(data[at:])
                    return data[:at]
                return data  # not a trailer after all
            parsed = _parse_tail(rest[:end])
            if parsed is not None:
                self.status, self.meta = parsed
                return data[:at]
            return data
        # Hold back the longest end of the data that could be the start of the mark.
        for size in range(min(len(data), len(self._mark) - 1), 0, -1):
            if data.endswith(self._mark[:size]):
                self._hold = bytearray(data[-size:])
                return data[:-size]
        return data

    def flush(self) -> bytes:
        held, self._hold = bytes(self._hold), bytearray()
        return held


class OutputCapture:
    """Collects stdout and stderr from one attach socket, at most ``cap`` bytes combined.

    ``pump`` blocks (run it in a worker thread); the counters may be read from another thread for
    progress reports. ``truncated`` becomes true the moment a byte past the cap arrives.
    """

    def __init__(self, sock: socket.socket, cap: int, nonce: str = "") -> None:
        self._sock = sock
        self._cap = cap
        self._lock = threading.Lock()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.kept = 0
        self.seen = 0
        self.truncated = False
        self._trailers = {STDOUT: _Trailer(nonce), STDERR: _Trailer(nonce)} if nonce else {}
        self.exit_code: int | None = None
        """Set from the runner's trailers once both streams carried one: the code has finished."""
        self.meta: dict[str, object] | None = None
        """What the runner's tracer reported with the stderr trailer (blocked exec, exec list, error)."""

    def _finished(self) -> bool:
        statuses = {trailer.status for trailer in self._trailers.values()}
        if self._trailers and None not in statuses and len(statuses) == 1:
            self.exit_code = statuses.pop()
            self.meta = self._trailers[STDERR].meta
            return True
        return False

    def pump(self) -> bool:
        """Read frames until end of stream, the cap, or the socket is shut down.

        Returns:
            True when the stream ended by itself (the container's process exited), False when
            reading stopped at the cap or on a socket error; then the container must be killed.
        """
        try:
            while not self.truncated:
                header = self._read_exact(8)
                if header is None:
                    self._flush_held()
                    return True
                kind, size = header[0], struct.unpack(">I", header[4:8])[0]
                while size and not self.truncated:
                    chunk = self._sock.recv(min(size, CHUNK))
                    if not chunk:
                        self._flush_held()
                        return True
                    size -= len(chunk)
                    trailer = self._trailers.get(kind)
                    self._accept(kind, trailer.feed(chunk) if trailer is not None else chunk)
                if self._finished():
                    return True
        except OSError:
            return False
        return False

    def _flush_held(self) -> None:
        for kind, trailer in self._trailers.items():
            held = trailer.flush()
            if held:
                self._accept(kind, held)

    def snapshot(self) -> tuple[bytes, bytes]:
        """The output kept so far; safe while ``pump`` still runs in another thread."""
        with self._lock:
            return bytes(self.stdout), bytes(self.stderr)

    def _accept(self, kind: int, chunk: bytes) -> None:
        with self._lock:
            self.seen += len(chunk)
            room = self._cap - self.kept
            kept = chunk[:room] if room > 0 else b""
            (self.stderr if kind == STDERR else self.stdout).extend(kept)
            self.kept += len(kept)
            if len(chunk) > room:
                self.truncated = True

    def _read_exact(self, size: int) -> bytes | None:
        buffer = bytearray()
        while len(buffer) < size:
            chunk = self._sock.recv(size - len(buffer))
            if not chunk:
                return None
            buffer += chunk
        return bytes(buffer)
