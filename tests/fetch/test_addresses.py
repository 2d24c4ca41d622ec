"""The address judge, as a unit over a table: no network is touched."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from secure_mcp.fetch import describe_reason, judge_address
from secure_mcp.fetch.addresses import connect_form

ADDRESSES: list[tuple[str, str | None]] = [
    # IPv4 refused
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this_network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("100.100.100.200", "metadata"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.0.1", "link_local"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("168.63.129.16", "metadata"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.0.192", "metadata"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv4 global
    ("1.1.1.1", None),
    ("8.8.8.8", None),
    ("93.184.215.14", None),
    ("172.15.255.255", None),
    ("172.32.0.0", None),
    ("100.63.255.255", None),
    ("100.128.0.0", None),
    ("198.17.255.255", None),
    ("223.255.255.255", None),
    ("11.0.0.1", None),
    # IPv6 refused
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "ipv4_mapped:loopback"),
    ("::ffff:7f00:1", "ipv4_mapped:loopback"),
    ("::ffff:169.254.169.254", "ipv4_mapped:metadata"),
    ("::ffff:10.0.0.1", "ipv4_mapped:private"),
    ("::127.0.0.1", "ipv4_compatible:loopback"),
    ("::8.8.8.8", "ipv4_compatible"),
    ("64:ff9b::7f00:1", "nat64:loopback"),
    ("64:ff9b::a9fe:a9fe", "nat64:metadata"),
    ("64:ff9b:1::1", "nat64_local"),
    ("2002:7f00:1::", "6to4:loopback"),
    ("2002:a00:1::1", "6to4:private"),
    ("2002:808:808::1", "6to4"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "teredo:loopback"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "teredo"),
    ("2001:2::1", "benchmarking"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:10::1", "reserved"),
    ("100::1", "reserved"),
    ("5f00::1", "reserved"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "metadata"),
    ("fd20:ce::254", "metadata"),
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    ("febf::1", "link_local"),
    ("fec0::1", "site_local"),
    ("ff02::1", "multicast"),
    ("ff05::2", "multicast"),
    ("4000::1", "reserved"),
    ("::ffff:0:7f00:1", "reserved"),
    # IPv6 global
    ("2606:4700:4700::1111", None),
    ("2001:4860:4860::8888", None),
    ("2a00:1450:4001::1", None),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None),
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES)
def test_judge_address_classifies_each_address(text: str, expected: str | None) -> None:
    """Every address gets the reason from the table; only globally routable ones get None."""
    assert judge_address(ip_address(text)) == expected


def test_table_covers_at_least_sixty_addresses() -> None:
    """The issue asks for a table of at least 60 addresses; this one keeps growing, never shrinking."""
    assert len(ADDRESSES) >= 60


def test_connect_form_unwraps_ipv4_mapped_addresses() -> None:
    """A mapped address that passed is connected to as plain IPv4, so the socket cannot reinterpret it."""
    assert connect_form(ip_address("::ffff:8.8.8.8")) == ip_address("8.8.8.8")
    assert connect_form(ip_address("2606:4700::1")) == ip_address("2606:4700::1")


@pytest.mark.parametrize("reason", sorted({r for _, r in ADDRESSES if r is not None}))
def test_every_reason_has_a_readable_description(reason: str) -> None:
    """Refusal messages describe each reason in words, never with a bare fallback code."""
    assert "refused address (" not in describe_reason(reason)
