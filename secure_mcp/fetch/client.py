"""The fetch itself: resolve once, judge, connect to what was judged, follow redirects by hand.

Each hop (the first URL and every redirect) goes through the same steps from scratch: the static
checks of ``check_url``, one resolution, the address judge over *every* answer, a connection to one
of exactly those answers. The whole fetch, all hops included, runs under one deadline.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal, TypeVar
from urllib.parse import urljoin

import anyio

from secure_mcp.errors import Denied, ToolFailure
from secure_mcp.fetch._http import PinnedConnection, ResponseHead
from secure_mcp.fetch.addresses import IPAddress
from secure_mcp.fetch.convert import ContentType, decode_body, parse_content_type
from secure_mcp.fetch.policy import FetchOutcome, FetchPolicy
from secure_mcp.fetch.resolver import Resolver, SystemResolver
from secure_mcp.fetch.targets import ParsedTarget, check_url, judge_resolved
from secure_mcp.fetch.worker import ConversionFailed, ConversionTimeout, convert_html

Format = Literal["markdown", "text", "raw"]
_FORMATS = ("markdown", "text", "raw")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_BODY = frozenset({204, 304})
T = TypeVar("T")


@lru_cache(maxsize=1)
def default_ssl_context() -> ssl.SSLContext:
    """The system trust store, certificate and host name checks on, HTTP/1.1 offered by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


async def fetch(
    url: str,
    fmt: Format,
    policy: FetchPolicy,
    *,
    resolver: Resolver | None = None,
    max_bytes: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchOutcome:
    """Fetch ``url`` through the SSRF guard and return its text in ``fmt``.

    Args:
        url: an ``http``/``https`` URL.
        fmt: ``markdown`` (HTML converted), ``text`` (markup stripped) or ``raw`` (as received).
        policy: domains, exceptions and limits.
        resolver: where names become addresses; the system resolver by default.
        max_bytes: the caller's own cap; the policy's ``max_bytes`` still bounds it.
        ssl_context: the trust used for https (tests pass one trusting their own CA).

    Raises:
        Denied: stage ``validate``, for any refused target (first URL or redirect hop).
        ToolFailure: an ordinary failure: ``timeout``, ``dns_failure``, ``connection_refused``,
            ``connection_failed``, ``tls_verify``, ``tls_error``, ``protocol_error``,
            ``content_type``, ``content_encoding``, ``too_many_redirects``, ``conversion_failed``.
            ``timeout`` covers the HTML conversion too: it runs in a worker killed when time is up.
    """
    if fmt not in _FORMATS:
        raise Denied("validate", "bad_format", "format must be one of markdown, text, raw")
    limit = policy.max_bytes if max_bytes is None else min(max_bytes, policy.max_bytes)
    if limit < 1:
        raise Denied("validate", "bad_max_bytes", "max_bytes must be at least 1")
    first = check_url(url, policy)
    deadline = time.monotonic() + policy.timeout_s
    try:
        with anyio.fail_after(policy.timeout_s):
            fetched = await _follow(first, policy, resolver or SystemResolver(), limit, ssl_context)
    except TimeoutError:
        raise ToolFailure("timeout", f"the fetch did not finish within {policy.timeout_s:g} s") from None
    return await _converted(fetched, fmt, deadline - time.monotonic(), policy.timeout_s)


@dataclass(frozen=True)
class _Fetched:
    """A response read and decoded, not yet converted: the outcome with the decoded text as content."""

    outcome: FetchOutcome
    content_type: ContentType | None


async def _follow(
    first: ParsedTarget,
    policy: FetchPolicy,
    resolver: Resolver,
    limit: int,
    context: ssl.SSLContext | None,
) -> _Fetched:
    current, warnings, redirects = first, list[str](), 0
    while True:
        addresses = await _resolve_hop(current, resolver, redirects)
        connection = await _connect(current, addresses, context)
        try:
            head = await _guarded(current, connection.request(current.parsed.target, current.parsed.authority))
            location = head.header("location") if head.status in _REDIRECTS else None
            if location is None:
                return await _outcome(first, current, head, connection, limit, warnings)
        finally:
            connection.close()
        redirects += 1
        following = _check_redirect(current, location, policy, redirects)
        if redirects > policy.max_redirects:
            raise ToolFailure("too_many_redirects", f"more than {policy.max_redirects} redirects")
        if current.parsed.scheme == "https" and following.parsed.scheme == "http":
            warnings.append(f"redirect {redirects} went from https to plain http")
        current = following


def _check_redirect(current: ParsedTarget, location: str, policy: FetchPolicy, number: int) -> ParsedTarget:
    try:
        return check_url(urljoin(current.url, location.strip()), policy)
    except Denied as exc:
        # The Location is the server's text: the message names only what our checks found in it.
        raise Denied("validate", exc.reason, f"redirect {number} refused: {exc.message}") from None
    except ValueError:
        raise Denied("validate", "bad_url", f"redirect {number} refused: the Location is not a URL") from None


async def _resolve_hop(target: ParsedTarget, resolver: Resolver, number: int) -> tuple[IPAddress, ...]:
    """Resolve and judge one hop; a redirect hop refused here says so like one refused statically."""
    try:
        return await _resolve(target, resolver)
    except Denied as exc:
        if number == 0:
            raise
        raise Denied(exc.stage, exc.reason, f"redirect {number} refused: {exc.message}") from None


async def _resolve(target: ParsedTarget, resolver: Resolver) -> tuple[IPAddress, ...]:
    if target.parsed.literal is not None:
        return judge_resolved(target, [target.parsed.literal])
    try:
        answer = await resolver.resolve(target.host, target.port)
    except (ToolFailure, Denied, TimeoutError):
        raise
    except Exception:  # a broken resolver gives no address, so nothing is connected to
        raise ToolFailure("dns_failure", f"{target.host} could not be resolved") from None
    return judge_resolved(target, answer)


async def _connect(
    target: ParsedTarget, addresses: tuple[IPAddress, ...], context: ssl.SSLContext | None
) -> PinnedConnection:
    tls = (context or default_ssl_context()) if target.parsed.scheme == "https" else None
    opening = PinnedConnection.open(addresses, target.port, target.host, tls)
    return await _guarded(target, opening)


async def _guarded(target: ParsedTarget, step: Awaitable[T]) -> T:
    """Await one network step, turning socket and TLS errors into ``ToolFailure``s that name the host."""
    try:
        return await step
    except (ToolFailure, Denied, TimeoutError):
        raise
    except ssl.SSLCertVerificationError:
        raise ToolFailure("tls_verify", f"the TLS certificate of {target.host} could not be verified") from None
    except ssl.SSLError:
        raise ToolFailure("tls_error", f"the TLS connection to {target.host} failed") from None
    except ConnectionRefusedError:
        raise ToolFailure("connection_refused", f"{target.parsed.authority} refused the connection") from None
    except OSError as exc:
        raise ToolFailure(
            "connection_failed",
            f"the connection to {target.parsed.authority} failed ({exc.__class__.__name__})",
        ) from None


async def _outcome(
    first: ParsedTarget,
    final: ParsedTarget,
    head: ResponseHead,
    connection: PinnedConnection,
    limit: int,
    warnings: list[str],
) -> _Fetched:
    content_type = parse_content_type(head.header("content-type"))
    if content_type is None or not content_type.is_text:
        if head.status in _NO_BODY:
            return _Fetched(FetchOutcome(first.url, final.url, head.status, "", "", False, tuple(warnings)), None)
        named = content_type.media_type[:100] if content_type is not None else "(none)"
        raise ToolFailure("content_type", f"the content type {named} is refused; only text types and JSON are returned")
    body, truncated = await _guarded(final, connection.read_body(head, limit))
    text, charset_warnings = decode_body(body, content_type, truncated=truncated)
    warnings.extend(charset_warnings)
    outcome = FetchOutcome(first.url, final.url, head.status, content_type.media_type, text, truncated, tuple(warnings))
    return _Fetched(outcome, content_type)


async def _converted(fetched: _Fetched, fmt: Format, budget_s: float, timeout_s: float) -> FetchOutcome:
    """HTML to ``fmt`` within what is left of the fetch's time, in a worker that is killed at the end.

    Conversion of a large page takes seconds of CPU that no thread can interrupt (see ``worker``), so
    it runs in a process and the remaining budget of ``timeout_s`` bounds it.
    """
    outcome, content_type = fetched.outcome, fetched.content_type
    if fmt == "raw" or content_type is None or not content_type.is_html:
        return outcome
    try:
        converted, hidden = await convert_html(outcome.content, fmt, budget_s)
    except ConversionTimeout:
        raise ToolFailure(
            "timeout",
            f"the fetch did not finish within {timeout_s:g} s: converting the HTML page to {fmt} was "
            "stopped when the time was up (ask for format='raw', or a smaller max_bytes)",
        ) from None
    except ConversionFailed as exc:
        raise ToolFailure("conversion_failed", f"the HTML page could not be converted to {fmt} ({exc})") from None
    warnings = list(outcome.warnings)
    if hidden:
        warnings.append(f"{hidden} hidden page element(s) were removed from the converted content")
    return replace(outcome, content=converted, warnings=tuple(warnings))
