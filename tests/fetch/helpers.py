"""Loopback-only fixtures: a scripted HTTP server, a scripted resolver, a throw-away CA."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Route = Callable[[asyncio.StreamWriter], Awaitable[None]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def respond(status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Route:
    """A route answering with one complete response (Content-Length set)."""

    async def route(writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    return route


def stream(headers: Sequence[tuple[str, str]], chunk: bytes, count: int, delay: float = 0.0) -> Route:
    """A route sending a close-delimited body of ``count`` chunks, optionally slowly (bounded)."""

    async def route(writer: asyncio.StreamWriter) -> None:
        head = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for _ in range(count):
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()

    return route


def redirect(location: str, status: int = 302) -> Route:
    """A route answering with a redirect to ``location``."""
    return respond(status, [("Location", location)])


def html(body: str, charset: str = "utf-8") -> Route:
    """A route answering with an HTML page."""
    return respond(200, [("Content-Type", f"text/html; charset={charset}")], body.encode(charset))


@dataclass
class SeenRequest:
    """What a fixture server received."""

    target: str
    headers: dict[str, str]


@dataclass
class FixtureServer:
    """An HTTP/1.1 server on a loopback address that answers from a route table and records requests."""

    routes: dict[str, Route]
    host: str = "127.0.0.1"
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    requests: list[SeenRequest] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> FixtureServer:
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError("fixture servers bind loopback only")
        self._server = await asyncio.start_server(self._handle, self.host, self.port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/", host: str | None = None, scheme: str = "http") -> str:
        """A URL of this server, optionally under another host name (resolved by a FakeResolver)."""
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            target = request_line.split(" ")[1]
            headers = {}
            for line in header_lines:
                if ":" in line:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
            self.requests.append(SeenRequest(target, headers))
            route = self.routes.get(target.partition("?")[0], respond(404, [("Content-Type", "text/plain")], b"no"))
            await route(writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)


class FakeResolver:
    """Answers from a script: each lookup of a name takes the next answer (the last one repeats)."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self._answers = {name: [list(a) for a in seq] for name, seq in answers.items()}
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The next scripted answer for ``host``."""
        count = self.calls.count(host)
        self.calls.append(host)
        script = self._answers[host]
        return [ipaddress.ip_address(a) for a in script[min(count, len(script) - 1)]]


@dataclass(frozen=True)
class Certificates:
    """A throw-away CA and a leaf certificate for ``names``."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self, path_prefix: str) -> ssl.SSLContext:
        """A server context presenting the leaf (files written under a temporary prefix)."""
        cert_file, key_file = f"{path_prefix}.crt", f"{path_prefix}.key"
        with open(cert_file, "wb") as handle:
            handle.write(self.cert_pem)
        with open(key_file, "wb") as handle:
            handle.write(self.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only the throw-away CA."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context


def mint_certificates(*names: str) -> Certificates:
    """Mint a CA and a leaf for ``names`` (DNS SANs), valid for a day."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secure-mcp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return Certificates(
        ca.public_bytes(serialization.Encoding.PEM),
        leaf.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
