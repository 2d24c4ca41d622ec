"""Bearer tokens from config, known only by their SHA-256.

The verifier compares the presented token's digest with every configured digest using
``hmac.compare_digest`` and without stopping early, so timing tells nothing about which digest, or
how much of one, matched. A token's tools travel as ``tool:<name>`` scopes on the SDK's
``AccessToken``; the auth stage and ``tools/list`` read them from there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken

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
