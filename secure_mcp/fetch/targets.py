"""Judging a target: the static checks on a URL and the checks on what its name resolved to."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from secure_mcp.errors import Denied
from secure_mcp.fetch.addresses import IPAddress, connect_form, describe_reason, judge_address
from secure_mcp.fetch.domains import matching_domain
from secure_mcp.fetch.policy import FetchPolicy
from secure_mcp.fetch.urls import ParsedUrl, parse_url


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed the static checks; ``is_exempt`` when ``allow_hosts`` names its host:port."""

    parsed: ParsedUrl
    is_exempt: bool

    @property
    def url(self) -> str:
        """The normalised URL."""
        return self.parsed.url

    @property
    def host(self) -> str:
        """The normalised host: the name TLS verifies and the Host header carries."""
        return self.parsed.host

    @property
    def port(self) -> int:
        """The port to connect to."""
        return self.parsed.port


def address_reason(code: str) -> str:
    """The ``Denied.reason`` for a judge code: ``ipv4_mapped:loopback`` becomes ``ipv4_mapped_loopback``."""
    return code.replace(":", "_")


def check_url(url: str, policy: FetchPolicy) -> ParsedTarget:
    """Run every check that needs no network: scheme, userinfo, host form, domain lists, literal address.

    Raises:
        Denied: stage ``validate``; ``reason`` names the check (``scheme``, ``userinfo``, ``bad_host``,
            ``domain_blocked``, ``domain_not_allowed``, ``loopback``, ``metadata`` ...).
    """
    try:
        parsed = parse_url(url)
        return _check_parsed(parsed, policy)
    except Denied:
        raise
    except Exception:  # fail closed: a bug in a check refuses, it never lets the URL through
        raise Denied("validate", "check_failed", "the URL could not be checked, so it is refused") from None


def _check_parsed(parsed: ParsedUrl, policy: FetchPolicy) -> ParsedTarget:
    host, is_literal = parsed.host, parsed.literal is not None
    blocked = matching_domain(host, policy.blocked, is_literal=is_literal)
    if blocked is not None:
        raise Denied("validate", "domain_blocked", f"{host} is under the blocked domain {blocked}")
    if policy.allowed and matching_domain(host, policy.allowed, is_literal=is_literal) is None:
        raise Denied("validate", "domain_not_allowed", f"{host} is not under any allowed domain")
    is_exempt = policy.is_exempt(host, parsed.port)
    if parsed.has_zone:
        code = judge_address(parsed.literal) if parsed.literal is not None else None
        if code is not None:
            raise Denied("validate", address_reason(code), f"{host} is {describe_reason(code)}")
        raise Denied("validate", "ipv6_zone", "an IPv6 zone ID is only meaningful for local addresses")
    if is_exempt:
        return ParsedTarget(parsed, True)
    if parsed.literal is not None:
        code = judge_address(parsed.literal)
        if code is not None:
            raise Denied("validate", address_reason(code), f"{host} is {describe_reason(code)}")
    elif host == "localhost" or host.endswith(".localhost"):
        raise Denied("validate", "loopback", f"{host} is a loopback name (RFC 6761)")
    return ParsedTarget(parsed, False)


def judge_resolved(target: ParsedTarget, addresses: object) -> tuple[IPAddress, ...]:
    """Judge every address the name resolved to; return them in connectable form.

    A name is refused when *any* address is refused: a resolver may hand out its answers in any
    order, and the one that passed is not necessarily the one a retry would use.

    Raises:
        Denied: stage ``validate``; ``reason`` is the judge's code of the first refused address,
            or ``dns_answer`` when the resolver returned something that is not a list of addresses.
    """
    if not isinstance(addresses, list | tuple) or not addresses:
        raise Denied("validate", "dns_answer", f"the resolver gave no usable answer for {target.host}")
    if not all(isinstance(ip, IPv4Address | IPv6Address) for ip in addresses):
        raise Denied("validate", "dns_answer", f"the resolver gave a malformed answer for {target.host}")
    if not target.is_exempt:
        for ip in addresses:
            code = judge_address(ip)
            if code is not None:
                raise Denied(
                    "validate",
                    address_reason(code),
                    f"{target.host} resolves to {ip}, {describe_reason(code)}; "
                    "a name with any non-global address is refused",
                )
    return tuple(dict.fromkeys(connect_form(ip) for ip in addresses))
