"""TLS with a pinned address: the connection goes to the judged IP, the certificate is checked
for the host name. Uses a throw-away CA and made-up names served on 127.0.0.1."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from secure_mcp.errors import ToolFailure
from secure_mcp.fetch import FetchPolicy, fetch

from .helpers import FakeResolver, FixtureServer, mint_certificates, respond

pytestmark = pytest.mark.anyio
TEXT = [("Content-Type", "text/plain")]


async def test_https_to_pinned_address_verifies_the_name(tmp_path: Path) -> None:
    """SNI and the Host header carry the name while the socket goes to the resolved address."""
    certs = mint_certificates("pinned.test")
    server_context = certs.server_context(str(tmp_path / "leaf"))
    seen_sni: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: seen_sni.append(name)
    async with FixtureServer({"/": respond(200, TEXT, b"over tls")}, ssl_context=server_context) as server:
        policy = FetchPolicy(allow_hosts=(f"pinned.test:{server.port}",), timeout_s=5)
        resolver = FakeResolver({"pinned.test": [["127.0.0.1"]]})
        outcome = await fetch(
            server.url("/", "pinned.test", "https"),
            "raw",
            policy,
            resolver=resolver,
            ssl_context=certs.client_context(),
        )
    assert outcome.content == "over tls"
    assert seen_sni == ["pinned.test"]
    assert server.requests[0].headers["host"] == f"pinned.test:{server.port}"


async def test_certificate_for_another_name_is_a_tls_failure(tmp_path: Path) -> None:
    """Pinning the address does not weaken verification: a certificate for another name fails."""
    certs = mint_certificates("other.test")
    async with FixtureServer(
        {"/": respond(200, TEXT, b"x")}, ssl_context=certs.server_context(str(tmp_path / "leaf"))
    ) as server:
        policy = FetchPolicy(allow_hosts=(f"pinned.test:{server.port}",), timeout_s=5)
        resolver = FakeResolver({"pinned.test": [["127.0.0.1"]]})
        with pytest.raises(ToolFailure) as caught:
            await fetch(
                server.url("/", "pinned.test", "https"),
                "raw",
                policy,
                resolver=resolver,
                ssl_context=certs.client_context(),
            )
    assert caught.value.reason == "tls_verify"
    assert server.requests == []


async def test_untrusted_issuer_is_a_tls_failure(tmp_path: Path) -> None:
    """The default trust store does not accept a certificate from an unknown CA."""
    certs = mint_certificates("pinned.test")
    async with FixtureServer(
        {"/": respond(200, TEXT, b"x")}, ssl_context=certs.server_context(str(tmp_path / "leaf"))
    ) as server:
        policy = FetchPolicy(allow_hosts=(f"pinned.test:{server.port}",), timeout_s=5)
        resolver = FakeResolver({"pinned.test": [["127.0.0.1"]]})
        with pytest.raises(ToolFailure) as caught:
            await fetch(server.url("/", "pinned.test", "https"), "raw", policy, resolver=resolver)
    assert caught.value.reason == "tls_verify"


def test_default_context_verifies_certificates_and_names() -> None:
    """The default client context never turns verification off."""
    from secure_mcp.fetch import default_ssl_context

    context = default_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
