"""Reading a container's multiplexed attach stream with a hard cap on what is kept.

Docker frames a non-TTY stream as ``[stream, 0, 0, 0, size (4 bytes big-endian)]`` then ``size``
bytes. Frames are read in bounded chunks and anything past the cap is never stored, so a 200 MB
print costs the server at most ``cap`` bytes plus one chunk, whatever the frame header claims.
"""

from __future__ import annotations

import json
import socket
import struct
import threading

CHUNK = 64 * 1024
STDOUT, STDERR = 1, 2


def encode_request(kind: str, source: str, cwd: str) -> bytes:
    """The runner's wire format: 4-byte big-endian length, then JSON."""
    body = json.dumps({"kind": kind, "source": source, "cwd": cwd}).encode("utf-8")
    return struct.pack(">I", len(body)) + body


class OutputCapture:
    """Collects stdout and stderr from one attach socket, at most ``cap`` bytes combined.

    ``pump`` blocks (run it in a worker thread); the counters may be read from another thread for
    progress reports. ``truncated`` becomes true the moment a byte past the cap arrives.
    """

    def __init__(self, sock: socket.socket, cap: int) -> None:
        self._sock = sock
        self._cap = cap
        self._lock = threading.Lock()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.kept = 0
        self.seen = 0
        self.truncated = False

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
                    return True
                kind, size = header[0], struct.unpack(">I", header[4:8])[0]
                while size and not self.truncated:
                    chunk = self._sock.recv(min(size, CHUNK))
                    if not chunk:
                        return True
                    size -= len(chunk)
                    self._accept(kind, chunk)
        except OSError:
            return False
        return False

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
