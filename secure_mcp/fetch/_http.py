"""One HTTP/1.1 exchange over a connection to an address that was already judged.

Built on asyncio streams and ``h11`` instead of an HTTP client library on purpose: we open the
socket to the pinned address ourselves, TLS verifies the certificate for the host *name* (SNI and
hostname check), and the request line and Host header are written from our own parse of the URL.
No proxy settings, cookies, auth headers, redirects or second DNS lookup can enter from a library.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from dataclasses import dataclass

import h11

from secure_mcp.errors import ToolFailure
from secure_mcp.fetch.addresses import IPAddress

USER_AGENT = "secure-mcp-fetch/0.1"
_READ_CHUNK = 65536
_MAX_HEAD_BYTES = 65536


@dataclass(frozen=True)
class ResponseHead:
    """Status and headers (names lowercased) of a response."""

    status: int
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase), or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class _BodyDecoder:
    """Undoes a single ``gzip``/``deflate`` content coding with bounded output per call."""

    def __init__(self, coding: str | None) -> None:
        name = (coding or "identity").strip().lower()
        if name in ("", "identity"):
            self._inflater = None
        elif name in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise ToolFailure("content_encoding", f"the content encoding '{name[:40]}' is not supported")

    def decode(self, data: bytes, room: int) -> bytes:
        """At most ``room + 1`` decoded bytes: one past the room is enough to know it was truncated."""
        if self._inflater is None:
            return data[: room + 1]
        try:
            return self._inflater.decompress(data, room + 1)
        except zlib.error:
            raise ToolFailure("content_encoding", "the compressed body is corrupt") from None


class PinnedConnection:
    """A client connection to one judged address; ``server_name`` is what TLS verifies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)

    @classmethod
    async def open(
        cls,
        addresses: tuple[IPAddress, ...],
        port: int,
        server_name: str | None,
        context: ssl.SSLContext | None,
    ) -> PinnedConnection:
        """Connect to the first address that answers, in order; TLS when ``context`` is given.

        Raises:
            OSError: no address accepted the connection (the last error is raised).
            ssl.SSLError: the TLS handshake or the certificate check failed.
        """
        last: OSError = OSError("no address to connect to")
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    str(address),
                    port,
                    ssl=context,
                    server_hostname=server_name if context is not None else None,
                )
            except ssl.SSLError:
                raise
            except OSError as exc:
                last = exc
                continue
            return cls(reader, writer)
        raise last

    async def request(self, target: str, authority: str) -> ResponseHead:
        """Send ``GET target`` and read the response head (1xx responses are skipped)."""
        headers = [
            ("Host", authority),
            ("User-Agent", USER_AGENT),
            ("Accept", "text/html, text/*;q=0.9, application/json;q=0.9, */*;q=0.1"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Connection", "close"),
        ]
        self._writer.write(self._h11.send(h11.Request(method="GET", target=target, headers=headers)) or b"")
        self._writer.write(self._h11.send(h11.EndOfMessage()) or b"")
        await self._writer.drain()
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                return ResponseHead(
                    event.status_code,
                    tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers),
                )
            if not isinstance(event, h11.InformationalResponse):
                raise ToolFailure("protocol_error", "the server closed the connection without a response")

    async def read_body(self, head: ResponseHead, max_bytes: int) -> tuple[bytes, bool]:
        """Stream the body, decoding as it arrives; stop reading once past ``max_bytes``.

        Returns:
            The body (at most ``max_bytes``) and whether more was there.
        """
        decoder = _BodyDecoder(head.header("content-encoding"))
        body = bytearray()
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                room = max_bytes - len(body)
                chunk = decoder.decode(bytes(event.data), room)
                body += chunk[:room]
                if len(chunk) > room:
                    return bytes(body), True
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return bytes(body), False

    async def _next_event(self) -> object:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                raise ToolFailure("protocol_error", "the server sent a malformed HTTP response") from None
            if event is not h11.NEED_DATA:
                return event
            data = await self._reader.read(_READ_CHUNK)
            try:
                self._h11.receive_data(data)
            except h11.RemoteProtocolError:
                raise ToolFailure("protocol_error", "the server sent a malformed HTTP response") from None

    def close(self) -> None:
        """Drop the connection at once: nothing more is read, nothing waits for the peer."""
        self._writer.transport.abort()
