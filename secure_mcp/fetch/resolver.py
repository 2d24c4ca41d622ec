"""Name resolution behind a protocol, so tests and integrators can inject their own resolver.

The fetch resolves each hop's name exactly once, judges every answer, and connects to one of
those answers: the resolver is the only place a name becomes an address.
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Protocol

from secure_mcp.errors import ToolFailure

IPAddress = IPv4Address | IPv6Address


class Resolver(Protocol):
    """Turns a host name into the addresses it currently stands for."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """All addresses of ``host``, in the order they should be tried.

        Raises:
            ToolFailure: the name does not resolve (reason ``dns_failure``).
        """
        ...


class SystemResolver:
    """The operating system's resolver, through ``loop.getaddrinfo`` (runs in a worker thread)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """All TCP addresses of ``host``; IPv6 zone IDs are dropped (the judge refuses their ranges).

        Raises:
            ToolFailure: reason ``dns_failure``.
        """
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise ToolFailure("dns_failure", f"{host} could not be resolved ({exc.__class__.__name__})") from None
        addresses: list[IPAddress] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ToolFailure("dns_failure", f"{host} has no IPv4 or IPv6 address")
        return addresses
