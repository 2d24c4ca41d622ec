"""OIDC JWT access tokens: what is accepted, everything that is refused, JWKS caching, and real HTTP.

Keys are minted here with ``cryptography``; the issuer URL is a name that is never contacted. The
only network use is a JWKS server on 127.0.0.1 and a ``secure-mcp serve`` subprocess on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from secure_mcp.config import OidcConfig, TokenConfig, parse_config
from secure_mcp.errors import ConfigError
from secure_mcp.http.app import auth_kwargs, check_bind
from secure_mcp.http.oidc import (
    MAX_TOKEN_CHARS,
    OidcTokenVerifier,
    RemoteKeys,
    StaticKeys,
    VerificationKey,
    parse_jwks,
)
from secure_mcp.http.tokens import ChainTokenVerifier, ConfigTokenVerifier, hash_token
from tests.http.servers import INITIALIZE, JSON_HEADERS, Served, http_server, sdk_client, write_config

ISSUER = "https://idp.example.test/realms/acme"  # a name only: nothing ever connects to it
AUDIENCE = "secure-mcp"
RESOURCE = "http://127.0.0.1:8765/mcp"
ALGORITHMS = frozenset({"RS256", "ES256"})
DROP = object()  # a claim override meaning "leave this claim out"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    """The public half of ``private`` as a JWK with ``kid``, the way an issuer publishes it."""
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": kid, "use": "sig", **extra}


def jwks_bytes(*keys: object) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


STANDARD_JWKS = jwks_bytes(public_jwk(RSA_KEY, "rsa-1"), public_jwk(EC_KEY, "ec-1"))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "scope": "openid profile tool:write_file tool:fetch_url",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not DROP}


def mint(private: Any = RSA_KEY, kid: str | None = "rsa-1", alg: str = "RS256", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), private, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    """A compact JWS built by hand, for tokens a JWT library refuses to produce."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64(signature)}"


def settings(**overrides: Any) -> OidcConfig:
    values: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": Path("unused.json")}
    values.update(overrides)
    return OidcConfig(**values)


def verifier(jwks: bytes = STANDARD_JWKS, **overrides: Any) -> OidcTokenVerifier:
    config = settings(**overrides)
    return OidcTokenVerifier(config, RESOURCE, StaticKeys(parse_jwks(jwks, frozenset(config.algorithms))))


# ---------------------------------------------------------------------------------------- accepted


@pytest.mark.anyio
async def test_a_valid_rsa_token_becomes_an_oidc_principal_with_only_its_tool_scopes() -> None:
    token = mint()
    access = await verifier().verify_token(token)
    assert access is not None
    assert access.client_id == "oidc:alice"
    assert access.subject == "alice"
    assert access.scopes == ["tool:write_file", "tool:fetch_url"]  # openid/profile grant nothing
    assert access.resource == RESOURCE  # what the SDK's resource check compares
    assert access.claims == {"iss": ISSUER}
    assert access.expires_at is not None and access.expires_at >= int(time.time()) + 290


@pytest.mark.anyio
async def test_a_valid_ec_token_with_an_audience_list_and_scp_list_is_accepted() -> None:
    token = mint(EC_KEY, "ec-1", "ES256", aud=["other-api", AUDIENCE], scope=DROP, scp=["tool:run_command", "email"])
    access = await verifier().verify_token(token)
    assert access is not None
    assert access.client_id == "oidc:alice"
    assert access.scopes == ["tool:run_command"]


@pytest.mark.anyio
async def test_an_ed25519_key_verifies_eddsa_when_configured() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    check = verifier(jwks_bytes(public_jwk(key, "ed-1")), algorithms=("EdDSA",))
    access = await check.verify_token(mint(key, "ed-1", "EdDSA"))
    assert access is not None and access.client_id == "oidc:alice"


@pytest.mark.anyio
async def test_scp_as_a_space_separated_string_and_scope_together_are_merged() -> None:
    access = await verifier().verify_token(mint(scope="tool:write_file", scp="tool:fetch_url tool:write_file"))
    assert access is not None
    assert access.scopes == ["tool:write_file", "tool:fetch_url"]


@pytest.mark.anyio
async def test_a_custom_prefix_maps_to_the_projects_tool_scopes_and_only_that_prefix_grants() -> None:
    check = verifier(tool_scope_prefix="mcp.tools/")
    access = await check.verify_token(mint(scope="mcp.tools/run_command tool:write_file mcp.tools/"))
    assert access is not None
    assert access.scopes == ["tool:run_command"]  # tool:write_file is not this issuer's prefix; empty name ignored


@pytest.mark.anyio
@pytest.mark.parametrize("separator", ["\u00a0", "\t", "\n", "\u2003", "\u3000", "\x1f"])
async def test_scopes_split_on_the_space_character_only(separator: str) -> None:
    """RFC 6749 3.3: scopes are separated by U+0020 alone; other whitespace is part of one scope."""
    one = f"project:demo{separator}tool:write_file"
    for claim in ("scope", "scp"):
        overrides: dict[str, Any] = {"scope": DROP, claim: f"openid {one} tool:fetch_url"}
        access = await verifier().verify_token(mint(**overrides))
        assert access is not None
        assert access.scopes == ["tool:fetch_url"], (claim, separator)


@pytest.mark.anyio
async def test_runs_of_spaces_between_scopes_grant_no_empty_tool() -> None:
    access = await verifier().verify_token(mint(scope="  tool:write_file   tool:fetch_url "))
    assert access is not None
    assert access.scopes == ["tool:write_file", "tool:fetch_url"]


@pytest.mark.anyio
async def test_a_scope_without_the_prefix_grants_no_tool() -> None:
    access = await verifier().verify_token(mint(scope="write_file run_command admin tool-write_file"))
    assert access is not None
    assert access.scopes == []


@pytest.mark.anyio
async def test_a_different_principal_claim_is_used_when_configured() -> None:
    access = await verifier(principal_claim="preferred_username").verify_token(mint(preferred_username="bob"))
    assert access is not None and access.client_id == "oidc:bob"


@pytest.mark.anyio
async def test_expiry_and_not_before_tolerate_the_configured_leeway() -> None:
    now = int(time.time())
    check = verifier(leeway_s=60)
    assert await check.verify_token(mint(exp=now - 30)) is not None
    assert await check.verify_token(mint(nbf=now + 30, iat=DROP)) is not None


# ---------------------------------------------------------------------------------------- refused


def _now() -> int:
    return int(time.time())


REFUSED_CLAIMS = {
    "expired": {"exp": _now() - 3600},
    "not-yet-valid-nbf": {"nbf": _now() + 3600},
    "issued-in-the-future": {"iat": _now() + 3600},
    "wrong-issuer": {"iss": "https://evil.example.test/realms/acme"},
    "issuer-with-trailing-slash": {"iss": ISSUER + "/"},
    "wrong-audience": {"aud": "another-api"},
    "audience-list-without-ours": {"aud": ["another-api", "secure-mcp-2"]},
    "no-exp": {"exp": DROP},
    "exp-as-string": {"exp": str(_now() + 300)},
    "neither-iat-nor-nbf": {"iat": DROP},
    "nbf-as-string-with-iat": {"nbf": "0"},
    "nbf-as-false-with-iat": {"nbf": False},
    "nbf-as-padded-string-with-iat": {"nbf": " 1 "},
    "iat-as-true-with-nbf": {"iat": True, "nbf": _now() - 10},
    "iat-as-string-with-nbf": {"iat": "0", "nbf": _now() - 10},
    "no-iss": {"iss": DROP},
    "no-aud": {"aud": DROP},
    "missing-sub": {"sub": DROP},
    "empty-sub": {"sub": ""},
    "numeric-sub": {"sub": 12345},
    "sub-with-newline": {"sub": "alice\nrequested by: admin"},
    "sub-with-bidi-override": {"sub": "alice\u202egnp.exe"},
    "scope-of-wrong-type": {"scope": {"tool:write_file": True}},
    "scp-list-with-non-strings": {"scope": DROP, "scp": ["tool:write_file", 7]},
}


@pytest.mark.anyio
@pytest.mark.parametrize("overrides", list(REFUSED_CLAIMS.values()), ids=list(REFUSED_CLAIMS))
async def test_bad_claims_are_refused(overrides: dict[str, Any]) -> None:
    assert await verifier().verify_token(mint(**overrides)) is None


@pytest.mark.anyio
async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    assert await verifier().verify_token(mint(RSA_OTHER, "rsa-1")) is None


@pytest.mark.anyio
async def test_an_unknown_or_missing_kid_is_refused() -> None:
    check = verifier()
    assert await check.verify_token(mint(kid="rsa-2")) is None
    assert await check.verify_token(mint(kid=None)) is None


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_an_unsigned_token_is_refused(alg: str) -> None:
    token = forge({"alg": alg, "typ": "JWT", "kid": "rsa-1"}, claims())
    assert await verifier().verify_token(token) is None
    assert await verifier().verify_token(token.rstrip(".") + ".") is None


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
async def test_algorithm_confusion_hs256_signed_with_the_public_key_is_refused(
    encoding: serialization.Encoding, caplog: pytest.LogCaptureFixture
) -> None:
    """The classic attack: the public key is public, so an HMAC over it is something anyone can make.

    A verifier that lets the token's ``alg`` choose how the configured key is used would accept this.
    """
    public = RSA_KEY.public_key().public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = forge(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
        claims(scope="tool:run_command"),
        lambda data: hmac.new(public, data, hashlib.sha256).digest(),
    )
    with caplog.at_level(logging.WARNING, logger="secure_mcp.http.oidc"):
        assert await verifier().verify_token(token) is None
    assert "algorithm 'HS256' is not one of" in caplog.text


def test_hmac_and_none_cannot_even_be_configured() -> None:
    for bad in ("HS256", "none", "HS512"):
        with pytest.raises(ValidationError):
            settings(algorithms=(bad,))


@pytest.mark.anyio
async def test_an_allowed_algorithm_that_does_not_fit_the_named_key_is_refused() -> None:
    """``ES256`` is allowed, but ``rsa-1`` is an RSA key: the header cannot pick a key's algorithm."""
    token = forge({"alg": "ES256", "kid": "rsa-1"}, claims(), lambda data: EC_KEY.sign(data, ec.ECDSA(_sha256())))
    assert await verifier().verify_token(token) is None


def _sha256() -> hashes.HashAlgorithm:
    return hashes.SHA256()


def rsa_sign(data: bytes) -> bytes:
    return RSA_KEY.sign(data, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.anyio
async def test_an_algorithm_outside_the_configured_list_is_refused_even_with_a_good_signature() -> None:
    assert await verifier(algorithms=("ES256",)).verify_token(mint()) is None  # RS256 not configured
    assert await verifier().verify_token(mint(alg="PS256")) is None  # PS256 not configured


@pytest.mark.anyio
async def test_a_key_pinned_to_another_algorithm_refuses_it() -> None:
    check = verifier(jwks_bytes(public_jwk(RSA_KEY, "rsa-1", alg="RS256")), algorithms=("RS256", "PS256"))
    assert await check.verify_token(mint(alg="PS256")) is None
    assert await check.verify_token(mint(alg="RS256")) is not None


@pytest.mark.anyio
@pytest.mark.parametrize("header", [{"crit": ["exp"]}, {"crit": ["b64"], "b64": False}, {"b64": True}])
async def test_critical_header_extensions_are_refused(header: dict[str, Any]) -> None:
    """Correctly signed, but asking for processing this verifier does not do: refused, not ignored."""
    token = forge({"alg": "RS256", "kid": "rsa-1", **header}, claims(), rsa_sign)
    assert await verifier().verify_token(token) is None
    assert await verifier().verify_token(forge({"alg": "RS256", "kid": "rsa-1"}, claims(), rsa_sign)) is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "token",
    ["", "smcp_not-a-jwt", "a.b.c", "a.b", "....", "eyJ" * 10, "x" * (MAX_TOKEN_CHARS + 1), "\x00.\x01.\x02"],
    ids=["empty", "static-style", "three-junk", "two-parts", "dots", "header-only", "huge", "control-chars"],
)
async def test_garbage_is_refused_without_raising(token: str) -> None:
    assert await verifier().verify_token(token) is None


@pytest.mark.anyio
async def test_a_refusal_is_logged_with_its_reason_and_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = mint(aud="another-api")
    with caplog.at_level(logging.WARNING, logger="secure_mcp.http.oidc"):
        assert await verifier().verify_token(token) is None
    assert "OIDC token refused: InvalidAudienceError" in caplog.text
    for part in token.split("."):
        assert part not in caplog.text


def test_an_empty_tool_scope_prefix_is_refused_at_start() -> None:
    """An empty prefix would read every unrelated scope as a tool name: the config is refused."""
    with pytest.raises((ConfigError, ValidationError)) as caught:
        verifier(tool_scope_prefix="")
    assert "tool_scope_prefix" in str(caught.value)


# ------------------------------------------------------------------------------------- JWKS parsing


def test_unusable_jwks_entries_are_skipped_and_usable_ones_kept(caplog: pytest.LogCaptureFixture) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    private = RSAAlgorithm.to_jwk(RSA_OTHER, as_dict=True)
    document = jwks_bytes(
        public_jwk(RSA_KEY, "good"),
        {"kty": "oct", "kid": "hmac", "k": b64(b"secret")},  # a symmetric key is never a verification key
        {**private, "kid": "private"},  # a published private key is an incident, not a key
        public_jwk(short, "short"),
        public_jwk(RSA_OTHER, "enc", use="enc"),
        public_jwk(RSA_OTHER, "ps", alg="PS512"),  # not configured
        public_jwk(ec.generate_private_key(ec.SECP256K1()), "k1"),
        {**public_jwk(RSA_OTHER, "weird"), "alg": ["RS256"]},
        {"kid": "no-kty"},
        "not-an-object",
    )
    with caplog.at_level(logging.WARNING, logger="secure_mcp.http.oidc"):
        keys = parse_jwks(document, ALGORITHMS)
    assert set(keys) == {"good"}
    for kid in ("hmac", "private", "short", "enc", "ps", "k1", "weird", "no-kty"):
        assert f"(kid '{kid}') skipped" in caplog.text


def test_a_kid_published_twice_is_dropped() -> None:
    keys = parse_jwks(jwks_bytes(public_jwk(RSA_KEY, "same"), public_jwk(RSA_OTHER, "same")), ALGORITHMS)
    assert keys == {}


def test_jwks_file_is_read_at_start(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(STANDARD_JWKS)
    config = parse_config(
        {"auth": {"oidc": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": "jwks.json"}}}, tmp_path
    )
    assert config.auth.oidc is not None
    OidcTokenVerifier.from_config(config.auth.oidc, RESOURCE, config.base_dir)  # relative to the config
    path.write_bytes(b"{}")
    with pytest.raises(ConfigError, match="no 'keys' list"):
        OidcTokenVerifier.from_config(config.auth.oidc, RESOURCE, config.base_dir)
    path.write_bytes(jwks_bytes({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}))
    with pytest.raises(ConfigError, match="no usable signing key"):
        OidcTokenVerifier.from_config(config.auth.oidc, RESOURCE, config.base_dir)
    path.unlink()
    with pytest.raises(ConfigError, match="cannot read it"):
        OidcTokenVerifier.from_config(config.auth.oidc, RESOURCE, config.base_dir)


def test_plain_http_jwks_url_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigError, match="plain http is accepted only on loopback"):
        RemoteKeys("http://idp.example.test/jwks", ALGORITHMS)
    RemoteKeys("https://idp.example.test/jwks", ALGORITHMS)  # constructed only: nothing is fetched
    RemoteKeys("http://127.0.0.1:9/jwks", ALGORITHMS)
    RemoteKeys("http://[::1]:9/jwks", ALGORITHMS)


# -------------------------------------------------------------------------------------- JWKS by URL


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose answer the test changes, counting requests."""

    def __init__(self) -> None:
        self.body = STANDARD_JWKS
        self.status = 200
        self.headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.hits = 0
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                state.hits += 1
                if state.delay_s:
                    time.sleep(state.delay_s)
                self.send_response(state.status)
                for name, value in {"Content-Type": "application/json", **state.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                try:
                    self.wfile.write(state.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def remote(server: JwksServer, clock: FakeClock, **kwargs: Any) -> tuple[OidcTokenVerifier, RemoteKeys]:
    keys = RemoteKeys(server.url, ALGORITHMS, clock=clock, **kwargs)
    config = settings(jwks_file=None, jwks_url=server.url)
    return OidcTokenVerifier(config, RESOURCE, keys), keys


@pytest.mark.anyio
async def test_jwks_url_is_fetched_once_and_cached(jwks_server: JwksServer) -> None:
    check, keys = remote(jwks_server, FakeClock())
    for _ in range(5):
        assert await check.verify_token(mint()) is not None
    assert await check.verify_token(mint(EC_KEY, "ec-1", "ES256")) is not None
    assert jwks_server.hits == 1 and keys.fetches == 1


@pytest.mark.anyio
async def test_key_rotation_an_unknown_kid_triggers_one_refetch_a_minute(jwks_server: JwksServer) -> None:
    clock = FakeClock()
    check, _ = remote(jwks_server, clock)
    assert await check.verify_token(mint()) is not None
    assert jwks_server.hits == 1

    clock.now += 61
    jwks_server.body = jwks_bytes(public_jwk(RSA_OTHER, "rsa-2"))  # the issuer rotated: rsa-1 is gone
    assert await check.verify_token(mint(RSA_OTHER, "rsa-2")) is not None  # unknown kid -> refetch
    assert jwks_server.hits == 2
    assert await check.verify_token(mint()) is None  # the retired key no longer verifies

    # A flood of made-up kids within the minute costs the issuer nothing more.
    for index in range(20):
        assert await check.verify_token(mint(kid=f"made-up-{index}")) is None
    assert jwks_server.hits == 2

    clock.now += 61
    jwks_server.body = jwks_bytes(public_jwk(RSA_OTHER, "rsa-2"), public_jwk(RSA_KEY, "rsa-3"))
    assert await check.verify_token(mint(RSA_KEY, "rsa-3")) is not None
    assert jwks_server.hits == 3


@pytest.mark.anyio
async def test_an_unknown_kid_right_after_a_fetch_waits_for_the_interval(jwks_server: JwksServer) -> None:
    clock = FakeClock()
    check, _ = remote(jwks_server, clock)
    assert await check.verify_token(mint()) is not None
    jwks_server.body = jwks_bytes(public_jwk(RSA_OTHER, "rsa-2"))
    assert await check.verify_token(mint(RSA_OTHER, "rsa-2")) is None  # within the minute: no refetch
    assert jwks_server.hits == 1
    clock.now += 60
    assert await check.verify_token(mint(RSA_OTHER, "rsa-2")) is not None
    assert jwks_server.hits == 2


@pytest.mark.anyio
async def test_the_cache_expires_after_its_ttl_even_for_known_kids(jwks_server: JwksServer) -> None:
    clock = FakeClock()
    check, _ = remote(jwks_server, clock, ttl_s=300)
    assert await check.verify_token(mint()) is not None
    jwks_server.body = jwks_bytes(public_jwk(EC_KEY, "ec-1"))  # rsa-1 withdrawn by the issuer
    clock.now += 299
    assert await check.verify_token(mint()) is not None
    clock.now += 2
    assert await check.verify_token(mint()) is None
    assert jwks_server.hits == 2


@pytest.mark.anyio
async def test_failed_refreshes_keep_the_last_keys_until_they_are_too_stale(jwks_server: JwksServer) -> None:
    clock = FakeClock()
    check, _ = remote(jwks_server, clock, ttl_s=300, max_stale_s=3600)
    assert await check.verify_token(mint()) is not None
    jwks_server.status = 500
    clock.now += 301
    assert await check.verify_token(mint()) is not None  # issuer down: last good keys still used
    assert jwks_server.hits == 2
    clock.now += 3300
    assert await check.verify_token(mint()) is None  # an hour without a good fetch: nothing verifies
    jwks_server.status = 200
    clock.now += 61
    assert await check.verify_token(mint()) is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (200, b"x" * (300 * 1024), {}),
        (200, b"<html>login</html>", {}),
        (302, b"", {"Location": "http://127.0.0.1:9/elsewhere.json"}),
        (404, STANDARD_JWKS, {}),
    ],
    ids=["too-large", "not-json", "redirect-not-followed", "not-200"],
)
async def test_a_bad_jwks_answer_verifies_nothing(
    jwks_server: JwksServer, status: int, body: bytes, headers: dict[str, str]
) -> None:
    jwks_server.status, jwks_server.body, jwks_server.headers = status, body, headers
    check, _ = remote(jwks_server, FakeClock())
    assert await check.verify_token(mint()) is None
    assert jwks_server.hits == 1


@pytest.mark.anyio
async def test_a_slow_jwks_server_is_abandoned_at_the_deadline(jwks_server: JwksServer) -> None:
    jwks_server.delay_s = 2.0
    check, _ = remote(jwks_server, FakeClock(), timeout_s=0.1)
    started = time.monotonic()
    assert await check.verify_token(mint()) is None
    assert time.monotonic() - started < 1.0


@pytest.mark.anyio
async def test_concurrent_requests_with_an_unknown_kid_share_one_fetch(jwks_server: JwksServer) -> None:
    jwks_server.delay_s = 0.05  # long enough that all ten wait on the one fetch in flight
    check, _ = remote(jwks_server, FakeClock())
    results: list[bool] = []

    async def one() -> None:
        results.append(await check.verify_token(mint()) is not None)

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    assert results == [True] * 10
    assert jwks_server.hits == 1


# --------------------------------------------------------------------------- combined with static tokens

STATIC_SECRET = "smcp_static-token-for-oidc-tests-0123456789"


@pytest.mark.anyio
async def test_static_tokens_and_jwts_coexist_and_a_sub_cannot_impersonate_a_token_name() -> None:
    static = ConfigTokenVerifier(
        [TokenConfig(name="ci", sha256=hash_token(STATIC_SECRET), tools=("write_file",))], RESOURCE
    )
    chain = ChainTokenVerifier(static, verifier())
    by_token = await chain.verify_token(STATIC_SECRET)
    assert by_token is not None and by_token.client_id == "ci"
    impostor = await chain.verify_token(mint(sub="ci", scope="tool:run_command"))
    assert impostor is not None
    assert impostor.client_id == "oidc:ci"  # its own principal: not the static token's grant or bucket
    assert impostor.scopes == ["tool:run_command"]
    assert await chain.verify_token("smcp_unknown") is None
    assert await chain.verify_token(mint(RSA_OTHER)) is None


def oidc_config(tmp_path: Path, **auth: Any) -> Any:
    (tmp_path / "jwks.json").write_bytes(STANDARD_JWKS)
    oidc = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": "jwks.json"}
    return parse_config({"auth": {"oidc": oidc, **auth}}, tmp_path)


def test_oidc_alone_is_configured_auth_for_any_bind(tmp_path: Path) -> None:
    check_bind(oidc_config(tmp_path), "0.0.0.0")
    check_bind(oidc_config(tmp_path), "127.0.0.1")
    with pytest.raises(ConfigError, match=r"disabled = true cannot be combined with \[auth.oidc\]"):
        oidc_config(tmp_path, disabled=True)  # refused for every bind, before check_bind is reached


def test_auth_kwargs_chain_static_then_oidc_and_name_the_issuer(tmp_path: Path) -> None:
    kwargs = auth_kwargs(oidc_config(tmp_path), "127.0.0.1", 8765, "/mcp")
    assert isinstance(kwargs["token_verifier"], ChainTokenVerifier)
    assert str(kwargs["auth"].issuer_url) == ISSUER
    assert kwargs["auth"].validate_token_resource is True


def test_verification_key_fits_only_its_family() -> None:
    rsa_key = VerificationKey("k", "RSA", None, None, RSA_KEY.public_key())
    assert rsa_key.fits("RS256") and rsa_key.fits("PS256")
    assert not rsa_key.fits("ES256") and not rsa_key.fits("HS256") and not rsa_key.fits("none")
    p256 = VerificationKey("k", "EC", "P-256", None, EC_KEY.public_key())
    assert p256.fits("ES256") and not p256.fits("ES384") and not p256.fits("RS256")


# ------------------------------------------------------------------------------ end to end over HTTP


@pytest.fixture(scope="module")
def oidc_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``secure-mcp serve --transport streamable-http`` with ``[auth.oidc]`` and no static token at all."""
    folder = tmp_path_factory.mktemp("oidc-http")
    (folder / "jwks.json").write_bytes(STANDARD_JWKS)
    extra = f'[auth.oidc]\nissuer = "{ISSUER}"\naudience = "{AUDIENCE}"\njwks_file = "jwks.json"\n'
    with http_server(write_config(folder, tokens=(), extra=extra), "streamable-http") as server:
        yield server


def initialize_status(served: Served, token: str) -> int:
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}"}
    return httpx2.post(served.endpoint, json=INITIALIZE, headers=headers, timeout=5).status_code


@pytest.mark.process
@pytest.mark.anyio
async def test_over_http_a_jwt_sees_and_calls_only_its_tools(oidc_served: Served) -> None:
    token = mint(sub="alice", scope="openid tool:write_file")
    async with sdk_client(oidc_served, token) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        written = await client.call_tool("write_file", {"path": "oidc.txt", "content": "via jwt"})
        refused = await client.call_tool("run_command", {"command": "ls"})
    assert listed == {"write_file"}
    assert not written.is_error, written
    assert (oidc_served.workspace / "oidc.txt").read_text() == "via jwt"
    assert refused.is_error
    assert refused.content[0].text == "blocked by auth: token 'oidc:alice' may not call run_command"  # type: ignore[union-attr]


@pytest.mark.process
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: mint(RSA_OTHER), id="wrong-key"),
        pytest.param(lambda: mint(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda: mint(aud="another-api"), id="wrong-audience"),
        pytest.param(lambda: forge({"alg": "none", "kid": "rsa-1"}, claims()), id="alg-none"),
    ],
)
def test_over_http_an_invalid_jwt_gets_a_401(oidc_served: Served, token: Any) -> None:
    assert initialize_status(oidc_served, token()) == 401
    assert initialize_status(oidc_served, mint()) == 200  # the same server takes a valid one


@pytest.mark.process
def test_over_http_the_metadata_names_the_issuer(oidc_served: Served) -> None:
    metadata = httpx2.get(f"{oidc_served.base}/.well-known/oauth-protected-resource/mcp", timeout=5).json()
    assert metadata["resource"] == oidc_served.endpoint
    assert [server.rstrip("/") for server in metadata["authorization_servers"]] == [ISSUER]
