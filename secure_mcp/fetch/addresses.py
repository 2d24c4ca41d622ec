"""The address judge: is this IP address one a fetch may connect to?

Built as an explicit table rather than on ``ipaddress``'s ``is_global``/``is_private``: those
properties changed meaning across CPython patch releases (3.11.7, which we run on, still misjudges
several ranges), and a security decision must not move with the interpreter. IPv6 is an allowlist:
only ``2000::/3`` global unicast can pass, and addresses that embed an IPv4 address (mapped,
compatible, NAT64, 6to4, Teredo) are judged by the address they carry.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

# Order matters: the first match names the reason, so specific ranges precede their supernets.
_V4_TABLE: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", "metadata"),  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        ("169.254.170.2/32", "metadata"),  # AWS ECS task metadata
        ("168.63.129.16/32", "metadata"),  # Azure WireServer: a public-looking address only VMs reach
        ("100.100.100.200/32", "metadata"),  # Alibaba Cloud
        ("192.0.0.192/32", "metadata"),  # Oracle Cloud
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "this_network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "cgnat"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link_local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_V6_TABLE: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("fd00:ec2::254/128", "metadata"),  # AWS IMDS over IPv6
        ("fd20:ce::254/128", "metadata"),  # GCP metadata over IPv6
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "nat64_local"),  # RFC 8215 local-use translation: target unknowable
        ("100::/64", "reserved"),  # discard-only
        ("2001:2::/48", "benchmarking"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo is judged before this)
        ("5f00::/16", "reserved"),  # SRv6 segment identifiers
        ("fc00::/7", "private"),  # unique local
        ("fe80::/10", "link_local"),
        ("fec0::/10", "site_local"),
        ("ff00::/8", "multicast"),
    )
)

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")


def judge_address(ip: IPAddress) -> str | None:
    """Judge one address: ``None`` when it is globally routable, else the reason it is refused.

    The reason is a stable code (``loopback``, ``private``, ``metadata`` ...). An IPv6 address
    that embeds an IPv4 one is refused as ``<embedding>:<inner reason>`` (``ipv4_mapped:loopback``)
    when the inner address is refused; the deprecated embeddings (compatible, 6to4, Teredo) are
    refused even around a global address, because no real site needs them and each one is a way
    to spell an address twice.
    """
    if isinstance(ip, IPv4Address):
        return _judge_v4(ip)
    bare = ip_address(str(ip).split("%", 1)[0])  # a zone ID only scopes link-local; it never helps
    if not isinstance(bare, IPv6Address):  # pragma: no cover - split of an IPv6 text is IPv6
        return "reserved"
    return _judge_v6(bare)


def _judge_v4(ip: IPv4Address) -> str | None:
    for net, reason in _V4_TABLE:
        if ip in net:
            return reason
    return None


def _judge_v6(ip: IPv6Address) -> str | None:
    if ip in _MAPPED:
        return _embedded("ipv4_mapped", _low32(ip), refuse_global=False)
    for net, reason in _V6_TABLE[:4]:  # metadata, ::, ::1 precede the IPv4-compatible range
        if ip in net:
            return reason
    if ip in _COMPATIBLE:
        return _embedded("ipv4_compatible", _low32(ip), refuse_global=True)
    if ip in _NAT64:
        return _embedded("nat64", _low32(ip), refuse_global=False)
    if ip in _SIX_TO_FOUR:
        return _embedded("6to4", IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), refuse_global=True)
    if ip in _TEREDO:
        return _embedded("teredo", IPv4Address(~int(ip) & 0xFFFFFFFF), refuse_global=True)
    for net, reason in _V6_TABLE[4:]:
        if ip in net:
            return reason
    if ip not in _GLOBAL_UNICAST:
        return "reserved"
    return None


def _low32(ip: IPv6Address) -> IPv4Address:
    return IPv4Address(int(ip) & 0xFFFFFFFF)


def _embedded(kind: str, inner: IPv4Address, *, refuse_global: bool) -> str | None:
    reason = _judge_v4(inner)
    if reason is not None:
        return f"{kind}:{reason}"
    return kind if refuse_global else None


def connect_form(ip: IPAddress) -> IPAddress:
    """The address to hand to ``connect``: an IPv4-mapped IPv6 address becomes its IPv4 address.

    The judge passed the mapped form because its inner address is global; connecting to the inner
    address directly means the socket family cannot reinterpret it.
    """
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


_DESCRIPTIONS = {
    "metadata": "a cloud metadata address",
    "unspecified": "the unspecified address",
    "this_network": "a 'this network' address (0.0.0.0/8)",
    "private": "a private address",
    "cgnat": "a carrier-grade NAT address (100.64.0.0/10)",
    "loopback": "a loopback address",
    "link_local": "a link-local address",
    "site_local": "a deprecated site-local address",
    "reserved": "a reserved, non-global address",
    "documentation": "a documentation-only address",
    "benchmarking": "a benchmarking-only address",
    "multicast": "a multicast address",
    "broadcast": "the broadcast address",
    "nat64_local": "a local-use NAT64 address",
}


_EMBEDDINGS = frozenset({"ipv4_mapped", "ipv4_compatible", "nat64", "6to4", "teredo"})


def describe_reason(reason: str) -> str:
    """A short phrase for a judge reason, for refusal messages (``a loopback address``)."""
    kind, _, inner = reason.partition(":")
    if kind in _EMBEDDINGS and not inner:
        return f"a deprecated IPv6 encoding ({kind})"
    if not inner:
        return _DESCRIPTIONS.get(kind, f"a refused address ({kind})")
    return f"an IPv6 address ({kind}) embedding {_DESCRIPTIONS.get(inner, inner)}"
