"""The bearer-token verifier: digests only, every digest compared, principal and tools from config."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from secure_mcp.config import TokenConfig
from secure_mcp.http.tokens import ConfigTokenVerifier, hash_token, new_token

pytestmark = pytest.mark.anyio
RESOURCE = "http://127.0.0.1:8765/mcp"
SECRETS = [f"smcp_secret-number-{i}-for-unit-tests" for i in range(5)]
CONFIGURED = [
    TokenConfig(
        name=f"t{i}", sha256=hash_token(secret), tools=("write_file",) if i % 2 else ("fetch_url", "run_command")
    )
    for i, secret in enumerate(SECRETS)
]


class RecordingCompare:
    """Stands in for ``hmac.compare_digest``, recording what was compared."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._real = hmac.compare_digest

    def __call__(self, a: str, b: str) -> bool:
        self.seen.append((a, b))
        return self._real(a, b)


@pytest.fixture
def compare(monkeypatch: pytest.MonkeyPatch) -> RecordingCompare:
    recorder = RecordingCompare()
    monkeypatch.setattr(hmac, "compare_digest", recorder)  # the module tokens.py calls through
    return recorder


@pytest.mark.parametrize("presented", [SECRETS[0], SECRETS[2], SECRETS[-1], "smcp_unknown", ""])
async def test_every_configured_digest_is_compared_whatever_matches(presented: str, compare: RecordingCompare) -> None:
    """No early exit: the first, a middle, the last and no match all cost one comparison per token.

    And only digests are compared, never the presented token itself, so the comparison time says
    nothing about the secret's bytes.
    """
    await ConfigTokenVerifier(CONFIGURED, RESOURCE).verify_token(presented)
    assert [stored for _, stored in compare.seen] == [t.sha256 for t in CONFIGURED]
    assert {given for given, _ in compare.seen} == {hashlib.sha256(presented.encode()).hexdigest()}


async def test_a_known_token_becomes_its_principal_with_tool_scopes() -> None:
    token = await ConfigTokenVerifier(CONFIGURED, RESOURCE).verify_token(SECRETS[2])
    assert token is not None
    assert token.client_id == "t2"
    assert token.subject == "t2"
    assert token.scopes == ["tool:fetch_url", "tool:run_command"]
    assert token.resource == RESOURCE


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "smcp_unknown",
        SECRETS[0] + " ",  # no trimming or normalisation: the exact bytes or nothing
        SECRETS[0].upper(),
        hash_token(SECRETS[0]),  # the stored digest is not itself a credential
    ],
)
async def test_anything_else_is_refused(presented: str) -> None:
    assert await ConfigTokenVerifier(CONFIGURED, RESOURCE).verify_token(presented) is None


async def test_no_tokens_configured_refuses_everything() -> None:
    assert await ConfigTokenVerifier([], RESOURCE).verify_token(SECRETS[0]) is None


def test_new_tokens_are_long_random_and_prefixed() -> None:
    made = {new_token() for _ in range(50)}
    assert len(made) == 50
    assert all(t.startswith("smcp_") and len(t) >= 40 for t in made)
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
