"""The listening socket ``serve`` binds itself hands out connections with Nagle's algorithm off.

asyncio switches Nagle off (TCP_NODELAY) only on sockets whose ``proto`` is ``IPPROTO_TCP``. 0.2.0
bound the HTTP port with ``socket.socket(family, SOCK_STREAM)`` (proto 0, so the accepted sockets
were proto 0 too) to report a taken port in one line, and every streamed MCP response then waited
on Nagle and delayed ACKs: 20 clients x 50 write_file over streamable HTTP fell from about 280 to
about 210 calls/s (p50 66 -> 88 ms) against the same code with uvicorn binding the port.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from secure_mcp.serve import bind_socket


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = ["127.0.0.1", pytest.param("[::1]", marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no ::1"))]


@pytest.mark.parametrize("host", HOSTS)
def test_an_accepted_connection_has_nagle_switched_off(host: str) -> None:
    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = bind_socket(host, 0)
        server = await asyncio.get_running_loop().create_server(Accept, sock=listener)  # as uvicorn does
        try:
            address = listener.getsockname()
            _, writer = await asyncio.open_connection(address[0], address[1])
            try:
                return await asyncio.wait_for(seen, 5)
            finally:
                writer.close()
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0
