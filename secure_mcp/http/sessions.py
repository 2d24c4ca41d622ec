"""Per-principal session caps, idle expiry and rate charging for the HTTP transports.

The SDK caps stateful sessions server-wide only (10,000, held up to 30 idle minutes): one token,
even one allowed no tool, could open sessions until the table was full, and then every other
principal's ``initialize`` got 503. SSE connections had no cap and no idle expiry at all. Here:

- each principal may hold ``[limits] max_sessions`` sessions (streamable HTTP) or connections
  (SSE) at once; one more is refused with 429 and ``blocked by limits: ...``;
- opening one costs a token from the principal's call bucket (the ``limits`` stage's), so a flood
  of openings is rate limited like a flood of calls;
- a session with nothing in flight for ``[limits] session_idle_timeout_s`` is gone: the SDK
  expires streamable-HTTP sessions after that time (it is passed to it) and this table forgets
  them by the same rule; an SSE connection with no message either way for that long is closed here.

The gates wrap the SDK's endpoints *inside* its authentication middleware, so the principal comes
from the verified token (``scope["user"]``), never from anything the client claims. A request that
is not authenticated while auth is required is passed through untouched: the SDK answers it 401.
Nothing here trusts a session id on its own: a record is touched only by requests of its principal.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
ANONYMOUS = "anonymous@loopback"
SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
SWEEP_INTERVAL_S = 1.0


class RateCharger(Protocol):
    """What the gate needs of the ``limits`` stage (``LimitsGuard`` satisfies it)."""

    def charge(self, principal: str) -> float: ...

    def rate_message(self, principal: str, wait: float) -> str: ...


@dataclass(slots=True)
class _Entry:
    principal: str
    in_flight: int
    last_active: float


class SessionTable:
    """Which sessions each principal holds; pure bookkeeping, no I/O, one event loop.

    A session is live while a request is in flight on it (an SSE stream counts as one for as long as
    it is open) or it was active less than ``idle_s`` ago. ``reserve`` counts sessions still being
    opened too, so concurrent ``initialize`` requests cannot overshoot the cap.
    """

    def __init__(self, cap: int, idle_s: float, clock: Clock = time.monotonic) -> None:
        self.cap = cap
        self.idle_s = idle_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._owned: dict[str, set[str]] = {}
        self._pending: dict[str, int] = {}
        self._swept = clock()

    def count(self, principal: str) -> int:
        """Live sessions of ``principal`` plus those it is opening right now."""
        self._expire(self._owned.get(principal, set()).copy())
        return len(self._owned.get(principal, ())) + self._pending.get(principal, 0)

    def reserve(self, principal: str) -> bool:
        """Hold a place for a session being opened; False when the principal is at its cap."""
        self._sweep()
        if self.count(principal) >= self.cap:
            return False
        self._pending[principal] = self._pending.get(principal, 0) + 1
        return True

    def release(self, principal: str) -> None:
        """Give back a reservation that did not become a session."""
        left = self._pending.get(principal, 0) - 1
        if left > 0:
            self._pending[principal] = left
        else:
            self._pending.pop(principal, None)

    def open(self, principal: str, session_id: str, *, held: bool) -> None:
        """Turn a reservation into a session (``held``: an SSE stream, in flight while it is open)."""
        self.release(principal)
        self._entries[session_id] = _Entry(principal, 1 if held else 0, self._clock())
        self._owned.setdefault(principal, set()).add(session_id)

    def enter(self, session_id: str, principal: str) -> bool:
        """A request of ``principal`` starts on the session; False if it is not that principal's."""
        entry = self._entries.get(session_id)
        if entry is None or entry.principal != principal:
            return False
        entry.in_flight += 1
        entry.last_active = self._clock()
        return True

    def leave(self, session_id: str) -> None:
        entry = self._entries.get(session_id)
        if entry is not None:
            entry.in_flight = max(0, entry.in_flight - 1)
            entry.last_active = self._clock()

    def touch(self, session_id: str) -> None:
        """Something went over the session (an SSE message): it is not idle."""
        entry = self._entries.get(session_id)
        if entry is not None:
            entry.last_active = self._clock()

    def idle_for(self, session_id: str) -> float:
        """Seconds since the session was last active (0 while unknown)."""
        entry = self._entries.get(session_id)
        return 0.0 if entry is None else self._clock() - entry.last_active

    def close(self, session_id: str, principal: str) -> None:
        """Forget the session, if it is ``principal``'s."""
        entry = self._entries.get(session_id)
        if entry is not None and entry.principal == principal:
            self._drop(session_id, entry)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def _drop(self, session_id: str, entry: _Entry) -> None:
        del self._entries[session_id]
        owned = self._owned.get(entry.principal)
        if owned is not None:
            owned.discard(session_id)
            if not owned:
                del self._owned[entry.principal]

    def _expire(self, session_ids: set[str]) -> None:
        now = self._clock()
        for session_id in session_ids:
            entry = self._entries.get(session_id)
            if entry is not None and entry.in_flight == 0 and now - entry.last_active >= self.idle_s:
                self._drop(session_id, entry)

    def _sweep(self) -> None:
        """Now and then, forget every expired session (principals that never come back included)."""
        now = self._clock()
        if now - self._swept >= SWEEP_INTERVAL_S:
            self._swept = now
            self._expire(set(self._entries))


class SessionPolicy:
    """The admission decision shared by the gates: rate charge first, then the principal's cap."""

    def __init__(self, table: SessionTable, limits: RateCharger | None, *, auth_required: bool) -> None:
        self.table = table
        self._limits = limits
        self._auth_required = auth_required
        self._streams: dict[anyio.CancelScope, bool] = {}  # open long-lived streams -> carries call results
        self.closing = False

    @contextmanager
    def stream(self, *, carries_results: bool) -> Iterator[anyio.CancelScope]:
        """A cancel scope for a long-lived response that ``end_streams`` can cut at shutdown."""
        scope = anyio.CancelScope()
        if self.closing:
            scope.cancel()
        self._streams[scope] = carries_results
        try:
            with scope:
                yield scope
        finally:
            self._streams.pop(scope, None)

    def end_streams(self, *, with_results: bool) -> int:
        """Cut the open streams that carry no call results (and, given ``with_results``, the others too).

        A streamable-HTTP GET stream only carries server-initiated messages, so it can go at once; an
        SSE stream carries the answers of calls, so it goes once the calls in flight are answered.
        """
        self.closing = True
        cut = 0
        for scope, carries in list(self._streams.items()):
            if with_results or not carries:
                scope.cancel()
                cut += 1
        return cut

    def principal(self, scope: Scope) -> str | None:
        """The verified principal, ``anonymous@loopback`` with auth disabled, None if unauthenticated."""
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            return str(user.access_token.client_id)
        return None if self._auth_required else ANONYMOUS

    def admit(self, principal: str) -> ASGIApp | None:
        """Reserve a session for ``principal``, or the 429 response refusing it.

        Every attempt is charged, refused or not: a client hammering ``initialize`` at its cap is
        flooding, and its bucket should say so.
        """
        limits = self._limits
        wait = limits.charge(principal) if limits is not None else 0.0
        if limits is not None and wait > 0:
            logger.warning("session refused: %s is over its call rate", principal)
            return refusal(limits.rate_message(principal, wait), retry_after=math.ceil(wait))
        if not self.table.reserve(principal):
            logger.warning("session refused: %s already holds %d sessions", principal, self.table.cap)
            return refusal(
                f"'{principal}' already has {self.table.cap} open sessions (limit {self.table.cap}); end one "
                f"(HTTP DELETE, or close the SSE stream) or wait until one has been idle for "
                f"{self.table.idle_s:g} s"
            )
        return None


def refusal(message: str, retry_after: int | None = None) -> ASGIApp:
    """A 429 with a JSON-RPC error body whose message is ``blocked by limits: <message>``."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": f"blocked by limits: {message}"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return respond


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _response_header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class _Status:
    """Records the status (and one header) of the response an app sends."""

    def __init__(self, send: Send, header: bytes | None = None) -> None:
        self.code: int | None = None
        self.header: str | None = None
        self._send = send
        self._name = header

        self.complete = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.code = int(message["status"])
            if self._name is not None:
                self.header = _response_header(message, self._name)
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)

    async def finish(self) -> None:
        """End a streamed response that was cut, so the client sees a clean end, not a torn connection."""
        if self.code is None or self.complete:
            return
        self.complete = True
        try:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # the client is gone already; nothing is left to tell it
            logger.debug("client gone before its stream was ended")


class _Gate:
    """An ASGI wrapper in front of one MCP endpoint, deciding per authenticated principal."""

    def __init__(self, app: ASGIApp, policy: SessionPolicy) -> None:
        self.app = app
        self._policy = policy

    def _principal(self, scope: Scope) -> str | None:
        """The request's principal (``anonymous@loopback`` with auth off); ``None``: not HTTP, or no login."""
        return self._policy.principal(scope) if scope["type"] == "http" else None


class StreamableSessionGate(_Gate):
    """Wraps the streamable-HTTP endpoint: caps and charges session openings, tracks activity."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = self._principal(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        session_id = _header(scope, SESSION_HEADER)
        if session_id is None:
            await self._open(principal, scope, receive, send)
            return
        table = self._policy.table
        if not table.enter(session_id, principal):  # not a session of this principal: the SDK answers
            await self.app(scope, receive, send)
            return
        status = _Status(send)
        try:
            if scope.get("method") == "GET":  # the standalone stream: server-initiated messages only
                with self._policy.stream(carries_results=False) as cut:
                    await self.app(scope, receive, status)
                if cut.cancelled_caught:
                    await status.finish()
            else:
                await self.app(scope, receive, status)
        finally:
            table.leave(session_id)
            deleted = scope.get("method") == "DELETE" and status.code is not None and status.code < 300
            if deleted or status.code == 404:  # ended by the client, or already gone in the SDK
                table.close(session_id, principal)

    async def _open(self, principal: str, scope: Scope, receive: Receive, send: Send) -> None:
        version = _header(scope, VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await self.app(scope, receive, send)  # the 2026-07-28 era has no sessions to count
            return
        refused = self._policy.admit(principal)
        if refused is not None:
            await refused(scope, receive, send)
            return
        status = _Status(send, SESSION_HEADER)
        opened = False
        try:
            await self.app(scope, receive, status)
            if status.code is not None and status.code < 400 and status.header:
                self._policy.table.open(principal, status.header, held=False)
                opened = True
        finally:
            if not opened:
                self._policy.table.release(principal)


def _endpoint_session(body: bytes) -> str | None:
    """The session id in the SDK's first SSE event (``event: endpoint`` / ``data: /messages/?session_id=...``)."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    if "event: endpoint" not in lines:
        return None
    for line in lines:
        if line.startswith("data:"):
            values = parse_qs(urlsplit(line[5:].strip()).query).get("session_id", [])
            return _uuid_hex(values[0]) if len(values) == 1 else None
    return None


def _uuid_hex(value: str) -> str | None:
    try:
        return uuid.UUID(hex=value).hex
    except ValueError:
        return None


def _carries_data(body: bytes) -> bool:
    """An SSE chunk with a ``data:`` line is a message; a keep-alive ping is only a comment."""
    return any(line.startswith(b"data:") for line in body.splitlines())


class SseStreamGate(_Gate):
    """Wraps ``GET /sse``: caps and charges connections, closes one idle for ``idle_s``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = self._principal(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        refused = self._policy.admit(principal)
        if refused is not None:
            await refused(scope, receive, send)
            return
        stream = _SseStream(self.app, self._policy.table, principal, send)
        try:
            with self._policy.stream(carries_results=True) as cut:
                await stream.run(scope, receive)
            if cut.cancelled_caught:
                await stream.finish()
        finally:
            stream.end()


class _SseStream:
    """One open SSE connection: learns its session id, marks activity, enforces the idle timeout."""

    def __init__(self, app: ASGIApp, table: SessionTable, principal: str, send: Send) -> None:
        self._app = app
        self._table = table
        self._principal = principal
        self._send = send
        self.session_id: str | None = None
        self._started = False
        self._finished = False
        self._expired = False

    async def run(self, scope: Scope, receive: Receive) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch_idle, group.cancel_scope)
            await self._app(scope, receive, self._forward)
            group.cancel_scope.cancel()  # the stream ended on its own: stop the watchdog
        if self._expired:
            await self.finish()

    async def _forward(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._started = True
        elif message["type"] == "http.response.body":
            body = bytes(message.get("body", b""))
            if self.session_id is None:
                found = _endpoint_session(body)
                if found is not None:
                    self.session_id = found
                    self._table.open(self._principal, found, held=True)
            elif _carries_data(body):
                self._table.touch(self.session_id)
            if not message.get("more_body", False):
                self._finished = True
        await self._send(message)

    async def _watch_idle(self, scope: anyio.CancelScope) -> None:
        idle_s = self._table.idle_s
        while True:
            left = idle_s - (self._table.idle_for(self.session_id) if self.session_id is not None else 0.0)
            if left > 0:
                await anyio.sleep(left)
                if self.session_id is not None:
                    continue
            logger.info("closing SSE session of %s: idle for %g s", self._principal, idle_s)
            self._expired = True
            scope.cancel()
            return

    async def finish(self) -> None:
        """End the chunked response properly after the stream was cut, so the client sees a clean close."""
        if not self._started or self._finished:
            return
        self._finished = True
        try:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # the client is gone already; nothing is left to tell it
            logger.debug("SSE client gone before the idle close")

    def end(self) -> None:
        if self.session_id is not None:
            self._table.close(self.session_id, self._principal)
        else:
            self._table.release(self._principal)


class SseMessageGate(_Gate):
    """Wraps ``POST /messages/``: a message of the connection's own principal counts as activity."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = self._principal(scope)
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get("session_id", [])
        session_id = _uuid_hex(query[0]) if principal is not None and len(query) == 1 else None
        table = self._policy.table
        if session_id is None or principal is None or not table.enter(session_id, principal):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            table.leave(session_id)
