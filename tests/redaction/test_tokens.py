"""The server's own tokens and JWTs whose header does not start with ``eyJ`` are masked (issue 17)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import jwt as pyjwt
import pytest
from mcp import Client

from secure_mcp.http.tokens import new_token
from secure_mcp.redaction import KINDS, Redactor, marker
from secure_mcp.testing import MemoryAuditSink
from tests.support import make_config, probe_spec, runtime

REDACTOR = Redactor()
KEY = b"k" * 32


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_jwt(header: bytes, payload: bytes = b'{ "sub": "alice", "exp": 4102444800 }') -> str:
    """A JWT with the header bytes exactly as given, HS256-signed, as any issuer could spell it."""
    signing_input = f"{_b64url(header)}.{_b64url(payload)}"
    signature = hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


HEADERS = [
    b'{ "alg": "HS256", "typ": "JWT" }',  # eyAi...
    b'{\n  "alg": "HS256"\n}',  # ewog...
    b' {"alg":"HS256"}',  # IHsi...
    b'\xef\xbb\xbf{"alg":"HS256"}',  # a UTF-8 byte order mark: 77u/...
    b'{"typ":"JWT","alg":"HS256"}',  # eyJ0eXAi... with a payload that is not eyJ
]


def test_the_servers_static_token_is_its_own_kind() -> None:
    """`smcp_` tokens from `secure-mcp token create` are masked wherever they appear."""
    assert "smcp_token" in KINDS
    token = new_token()
    for text in (f"Authorization: Bearer {token}\n", f"use {token} here", f'{{"token": "{token}"}}', token):
        result = REDACTOR.redact(text)
        assert token not in result.text
        assert token[5:] not in result.text
        assert marker("smcp_token") in result.text


@pytest.mark.parametrize("name", ["smcp_token", "smcp_config_loader_v2", "smcp_" + "a" * 42, "xsmcp_" + "b" * 43])
def test_things_that_only_look_like_a_server_token_stay(name: str) -> None:
    """The exact format (prefix + 43 URL-safe characters, whole word) is required."""
    assert REDACTOR.redact(f"see {name} now").text == f"see {name} now"


@pytest.mark.parametrize("header", HEADERS, ids=[h[:12].decode("utf-8", "replace") for h in HEADERS])
def test_a_jwt_whose_header_is_not_eyJ_is_masked_when_a_verifier_accepts_it(header: bytes) -> None:
    """Decided by decoding the header, as the verifier does: any JSON object with an 'alg'."""
    token = hand_made_jwt(header)
    assert not token.startswith("eyJ") or not token.split(".")[1].startswith("eyJ")
    assert pyjwt.decode(token, KEY, algorithms=["HS256"])["sub"] == "alice"  # the server would accept it
    for text in (f"Authorization: Bearer {token}\n", f"session={token}; Path=/", f"got {token}"):
        result = REDACTOR.redact(text)
        assert token.split(".")[0] not in result.text
        assert token.split(".")[2] not in result.text
        assert marker("jwt") in result.text


@pytest.mark.parametrize(
    "text",
    [
        hand_made_jwt(b'{ "typ": "JWT", "kid": "k1" }'),  # no alg: no verifier takes it
        _b64url(b'{"x": "alg"}') + ".e30.sig",  # "alg" is a value, not a key
        "www.example.com.au and secure_mcp.redaction.engine",
        "JhbGciOiJIUzI1NiJ9abc.def.ghi",  # the 'alg' spelling, misaligned: not base64 of JSON
        "/usr/lib/python3.11/site-packages/jwt/api_jws.py",
    ],
)
def test_dotted_text_that_is_not_a_jwt_stays(text: str) -> None:
    """Three dotted segments are not enough: the first must decode to a JSON header with 'alg'."""
    assert REDACTOR.redact(text).text == text


@pytest.mark.anyio
async def test_a_server_token_passed_as_an_argument_never_reaches_the_audit_log(tmp_path: Path) -> None:
    """The original leak: a token in a tool argument was stored in clear in call_received."""
    token = new_token()
    jwt_token = hand_made_jwt(HEADERS[0])
    sink = MemoryAuditSink()
    async with runtime(make_config(tmp_path), tools={"probe": probe_spec(tmp_path)}, sink=sink) as rt:
        async with Client(rt.server) as c:
            result = await c.call_tool("probe", {"name": "t", "note": f"{token} {jwt_token}"})
    assert not result.is_error
    stored = json.dumps(sink.records)
    assert token not in stored and token[5:] not in stored
    assert jwt_token.split(".")[0] not in stored
    assert token not in str(result.structured_content)
