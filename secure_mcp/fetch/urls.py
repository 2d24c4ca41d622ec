"""Strict URL parsing: one parse, ours, that the request is then built from.

A URL is never handed to another parser after it is judged: the request line, the Host header,
the TLS server name and the address to connect to all come from the ``ParsedUrl`` made here, so
there is no second interpretation for an attacker to aim at. Anything ambiguous (control
characters, backslashes or ``%`` in the host, userinfo, invalid numeric hosts) is refused rather
than repaired. Numeric hosts are read the way browsers and ``inet_aton`` read them (decimal, hex,
octal and short forms), so ``0x7f.1`` is judged as the ``127.0.0.1`` it will reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import quote, unquote_to_bytes

import idna

from secure_mcp.errors import Denied

IPAddress = IPv4Address | IPv6Address

MAX_URL_CHARS = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PORT = re.compile(r"[0-9]{1,5}")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
# Everything printable in ASCII that may stand in a request target; the rest is percent-encoded.
_TARGET_SAFE = "!$%&'()*+,/:;=?@[]"


@dataclass(frozen=True)
class ParsedUrl:
    """A URL reduced to what a request is built from; ``host`` is normalised (lowercase A-labels,
    dotted-quad IPv4, compressed IPv6 without brackets), ``literal`` is set for numeric hosts."""

    scheme: str
    host: str
    port: int
    target: str
    literal: IPAddress | None = None
    has_zone: bool = False

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header and the normalised URL spell it."""
        host = f"[{self.host}]" if isinstance(self.literal, IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The normalised URL (fragment dropped: it never reaches the server)."""
        return f"{self.scheme}://{self.authority}{self.target}"


def _refuse(reason: str, message: str) -> Denied:
    return Denied("validate", reason, message)


def parse_url(url: str) -> ParsedUrl:
    """Parse ``url`` strictly.

    Raises:
        Denied: ``bad_url``, ``scheme``, ``userinfo``, ``bad_host`` or ``bad_port`` (stage validate).
    """
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise _refuse("bad_url", f"the URL must be a string of at most {MAX_URL_CHARS} characters")
    url = url.strip(" ")
    if _CONTROL.search(url):
        raise _refuse("bad_url", "the URL contains control characters (tabs, newlines ...)")
    match = _SCHEME.fullmatch(url)
    if match is None:
        raise _refuse("bad_url", "the URL has no scheme; use http:// or https://")
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in DEFAULT_PORTS:
        raise _refuse("scheme", f"the scheme '{scheme[:20]}' is not allowed; only http and https are")
    if not rest.startswith("//"):
        raise _refuse("bad_url", "the URL must have the form scheme://host/path")
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop, 2)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[2:end], rest[end:]
    if "@" in authority:
        raise _refuse("userinfo", "credentials in the URL (user:password@) are not allowed")
    host, port = split_host_port(authority, DEFAULT_PORTS[scheme])
    name, literal, has_zone = normalise_host(host)
    return ParsedUrl(scheme, name, port, _request_target(tail), literal, has_zone)


def split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    """Split ``host[:port]`` (IPv6 in brackets); an empty port means the default.

    Raises:
        Denied: ``bad_host`` or ``bad_port``.
    """
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise _refuse("bad_host", "an IPv6 address in the URL is missing its closing ']'")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise _refuse("bad_host", "unexpected text after the IPv6 address")
        port_text = after[1:]
    else:
        host, sep, port_text = authority.partition(":")
        if sep and ":" in port_text:
            raise _refuse("bad_host", "the host contains ':'; IPv6 addresses need brackets")
    if not port_text:
        return host, default_port
    if _PORT.fullmatch(port_text) is None or not 0 < int(port_text) < 65536:
        raise _refuse("bad_port", "the port must be a number from 1 to 65535")
    return host, int(port_text)


def normalise_host(host: str) -> tuple[str, IPAddress | None, bool]:
    """Normalise a host: ``(name, literal address or None, had a zone ID)``.

    Raises:
        Denied: ``bad_host``.
    """
    if host.startswith("["):
        return _ipv6_literal(host[1:-1])
    try:
        text = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("bad_host", "the host is not valid percent-encoded UTF-8") from None
    if not text.isascii():
        try:
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except idna.IDNAError:
            raise _refuse("bad_host", "the host is not a valid internationalised name") from None
    text = text.lower()
    if text.endswith("."):
        text = text[:-1]
    if not text.isascii():
        try:
            text = idna.encode(text).decode("ascii")
        except idna.IDNAError:
            raise _refuse("bad_host", "the host is not a valid internationalised name") from None
    labels = text.split(".")
    if _NUMERIC_PART.fullmatch(labels[-1]):
        address = _parse_ipv4(labels)
        return str(address), address, False
    if len(text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _refuse("bad_host", "the host is not a valid host name")
    return text, None, False


def _ipv6_literal(inside: str) -> tuple[str, IPAddress | None, bool]:
    address_text, zone_sep, _zone = inside.partition("%")
    try:
        address = IPv6Address(address_text)
    except ValueError:
        raise _refuse("bad_host", "the host is not a valid IPv6 address") from None
    return str(address), address, bool(zone_sep)


def _parse_ipv4(labels: list[str]) -> IPv4Address:
    """The WHATWG IPv4 parser: the host ends in a number, so it is an address or it is invalid."""
    if len(labels) > 4:
        raise _refuse("bad_host", "the host looks numeric but is not a valid IPv4 address")
    numbers = [_parse_ipv4_part(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _refuse("bad_host", "the host looks numeric but is not a valid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _parse_ipv4_part(part: str) -> int:
    if _NUMERIC_PART.fullmatch(part) is None:
        raise _refuse("bad_host", "the host looks numeric but is not a valid IPv4 address")
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if any(c in "89" for c in part):
            raise _refuse("bad_host", "the host looks numeric but has an invalid octal part")
        return int(part, 8)
    return int(part)


def _request_target(tail: str) -> str:
    path_query = tail.partition("#")[0]
    if not path_query.startswith("/"):
        path_query = "/" + path_query
    return quote(path_query, safe=_TARGET_SAFE)
