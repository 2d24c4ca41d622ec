"""Bearer tokens from config, known only by their SHA-256.

The verifier compares the presented token's digest with every configured digest using
``hmac.compare_digest`` and without stopping early, so timing tells nothing about which digest, or
how much of one, matched. A token's tools travel as ``tool:<name>`` scopes on the SDK's
``AccessToken``; the auth stage and ``tools/list`` read them from there.

With ``[auth.oidc]`` configured, ``ChainTokenVerifier`` asks the static tokens first and the JWT
verifier second. Static token names match ``[A-Za-z0-9_.@-]+`` and OIDC principals are
``oidc:<sub>``, so the two namespaces cannot collide whatever an issuer puts in ``sub``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken, TokenVerifier

from secure_mcp.config import TokenConfig

TOOL_SCOPE_PREFIX = "tool:"
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """The hex SHA-256 stored in ``[[auth.tokens]] sha256``."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe), prefixed so secret scanners recognise it."""
    return "smcp_" + secrets.token_urlsafe(TOKEN_BYTES)


class ConfigTokenVerifier:
    """Satisfies the SDK's ``TokenVerifier`` protocol from ``[[auth.tokens]]``."""

    def __init__(self, tokens: Sequence[TokenConfig], resource: str) -> None:
        self._tokens = tuple(tokens)
        self._resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = hash_token(token)
        match: TokenConfig | None = None
        for candidate in self._tokens:
            if hmac.compare_digest(digest, candidate.sha256):
                match = candidate
        if match is None:
            return None
        return AccessToken(
            token=token,
            client_id=match.name,
            scopes=[f"{TOOL_SCOPE_PREFIX}{tool}" for tool in match.tools],
            resource=self._resource,
            subject=match.name,
        )


class ChainTokenVerifier:
    """Satisfies ``TokenVerifier`` by asking several verifiers in order; the first answer wins.

    Every verifier in the chain fails closed on its own (``None``), so the chain accepts a token only
    when one of them vouches for it. The static verifier goes first: its cost and timing do not
    depend on what later verifiers do, and a static token never reaches the JWT parser's logs.
    """

    def __init__(self, *verifiers: TokenVerifier) -> None:
        if not verifiers:
            raise ValueError("a verifier chain needs at least one verifier")
        self._verifiers = verifiers

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self._verifiers:
            found = await verifier.verify_token(token)
            if found is not None:
                return found
        return None
