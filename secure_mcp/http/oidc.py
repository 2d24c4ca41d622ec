"""JWT access tokens from an OpenID Connect issuer (``[auth.oidc]``), verified locally.

An organisation's identity provider signs short-lived access tokens; this verifier checks them
against the issuer's published keys (JWKS) without calling the provider per request. What it
accepts is deliberately narrow, because a verifier that is lenient in any one place is a bypass:

- **Algorithms:** only the configured asymmetric ones (``OidcConfig.algorithms`` cannot name
  ``none`` or an HMAC algorithm). The header's ``alg`` must be on that list *and* fit the key the
  ``kid`` names (an RSA key verifies only RS*/PS*, a P-256 key only ES256, ...), and PyJWT is given
  exactly that one algorithm. So an ``HS256`` token "signed" with the public key as an HMAC secret
  (algorithm confusion) is refused before any key is touched. Unknown ``crit`` extensions and
  unencoded payloads (``b64``) are refused.
- **Keys:** public RSA (>= 2048 bits), EC P-256/P-384 and Ed25519/Ed448 keys with a ``kid``; a JWKS
  entry that is symmetric, private, for encryption, or for an algorithm not configured is skipped.
  A token must name its key by ``kid``.
- **Claims:** ``exp`` is required, and ``iat`` or ``nbf``; each of the three that is present must
  be a JSON number (not a string, not a boolean) and is checked with ``leeway_s``. ``iss`` must
  equal ``issuer``; ``aud`` must be or contain ``audience``. The principal claim (``sub`` by
  default) must be a short printable string, since it is shown to humans in confirmation prompts.
- **Tools:** only scopes starting with ``tool_scope_prefix`` grant tools; ``<prefix>run_command``
  becomes the project's ``tool:run_command``. Everything else in ``scope``/``scp`` is ignored. A
  scope string is split on the space character only (RFC 6749), never on other whitespace.

The principal is ``oidc:<claim>``. Static token names cannot contain ``:``, so a JWT whose ``sub``
is ``ci-agent`` is ``oidc:ci-agent`` and never shares the static token ``ci-agent``'s grant, rate
limit bucket, session or audit identity.

Any failure is ``None`` (the SDK answers 401) and one warning on stderr naming the reason, never
the token. Nothing raised while verifying escapes to the transport.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp.server.auth.provider import AccessToken

from secure_mcp.config import OidcConfig
from secure_mcp.errors import ConfigError
from secure_mcp.http.tokens import TOOL_SCOPE_PREFIX

logger = logging.getLogger(__name__)

PRINCIPAL_PREFIX = "oidc:"
MAX_TOKEN_CHARS = 16 * 1024  # far above any real access token; caps the work an anonymous request causes
MAX_PRINCIPAL_CHARS = 256
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 256 * 1024
MAX_JWKS_KEYS = 64
JWKS_TIMEOUT_S = 5.0  # whole fetch, connect to last byte; a request waiting on it waits at most this
JWKS_TTL_S = 300.0  # a key removed by the issuer stops working within this
JWKS_REFETCH_INTERVAL_S = 60.0  # at most one fetch a minute, however many unknown kids are presented
JWKS_MAX_STALE_S = 3600.0  # if refreshing keeps failing, keys older than this are dropped

_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVE_FOR = {"ES256": "P-256", "ES384": "P-384"}
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
_DEFAULT_ALG = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "Ed25519": "EdDSA", "Ed448": "EdDSA"}


class JwksError(Exception):
    """A JWKS document could not be fetched or is not a key set."""


class _Refused(Exception):
    """A token is not accepted; the message is the reason logged (never the token)."""


def _clean(text: object, limit: int = 120) -> str:
    """A value an attacker chose, made safe for one log line: printable and bounded."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class VerificationKey:
    """One usable public key from a JWKS, with what it may verify."""

    kid: str
    kty: str
    curve: str | None
    alg: str | None  # the JWK's own ``alg``, when it pins one
    key: Any  # a cryptography public key object

    def fits(self, alg: str) -> bool:
        """Whether a token claiming ``alg`` may be checked with this key at all."""
        if self.alg is not None and self.alg != alg:
            return False
        if self.kty == "RSA":
            return alg in _RSA_ALGORITHMS
        if self.kty == "EC":
            return _EC_CURVE_FOR.get(alg) == self.curve
        return self.kty == "OKP" and alg == "EdDSA"


def _parse_key(entry: Mapping[str, Any], algorithms: frozenset[str]) -> VerificationKey:
    """One JWK as a verification key.

    Raises:
        ValueError: the entry is not a public signing key usable with ``algorithms``.
    """
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("no 'kid'")
    kty = entry.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        raise ValueError(f"key type {_clean(kty)!r} is not an asymmetric signing key")
    if "d" in entry or "p" in entry:
        raise ValueError("holds private key material; publish only the public key")
    if entry.get("use", "sig") != "sig":
        raise ValueError("is not a signing key ('use' is not 'sig')")
    pinned = entry.get("alg")
    if pinned is not None and (not isinstance(pinned, str) or pinned not in algorithms):
        raise ValueError(f"is for {_clean(pinned)!r}, which is not in 'algorithms'")
    curve = entry.get("crv") if kty != "RSA" else None
    if curve is not None and not isinstance(curve, str):
        raise ValueError("'crv' is not a string")
    if kty == "EC" and curve not in _EC_CURVE_FOR.values():
        raise ValueError(f"curve {_clean(curve)!r} is not P-256 or P-384")
    if kty == "OKP" and curve not in _OKP_CURVES:
        raise ValueError(f"curve {_clean(curve)!r} is not Ed25519 or Ed448")
    default = _DEFAULT_ALG[curve or "RSA"]
    try:
        key = jwt.PyJWK(dict(entry), algorithm=pinned or default).key
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot be loaded ({type(exc).__name__})") from None
    if not hasattr(key, "verify"):  # private key objects sign; only public ones verify
        raise ValueError("is not a public key")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits is shorter than {MIN_RSA_BITS}")
    verification = VerificationKey(kid=kid, kty=kty, curve=curve, alg=pinned, key=key)
    if not any(verification.fits(alg) for alg in algorithms):
        raise ValueError("fits none of the configured 'algorithms'")
    return verification


def parse_jwks(raw: bytes, algorithms: frozenset[str]) -> dict[str, VerificationKey]:
    """The usable keys of a JWKS document, by ``kid``.

    Entries that are not usable (symmetric, private, encryption keys, other algorithms) are skipped
    with a warning, as issuers publish such keys next to the signing ones. A ``kid`` appearing twice
    is dropped entirely: which key it means would be a guess.

    Raises:
        JwksError: the document is not a JSON object with a ``keys`` list, or is too large.
    """
    if len(raw) > MAX_JWKS_BYTES:
        raise JwksError(f"larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise JwksError("not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksError("not a JWKS: no 'keys' list")
    if len(entries) > MAX_JWKS_KEYS:
        raise JwksError(f"more than {MAX_JWKS_KEYS} keys")
    keys: dict[str, VerificationKey] = {}
    duplicated: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            logger.warning("JWKS key #%d skipped: not a JSON object", index)
            continue
        try:
            key = _parse_key(entry, algorithms)
        except Exception as exc:  # one odd entry must not take the whole key set down
            reason = exc if isinstance(exc, ValueError) else f"unreadable ({type(exc).__name__})"
            logger.warning("JWKS key #%d (kid %r) skipped: %s", index, _clean(entry.get("kid")), reason)
            continue
        if key.kid in keys or key.kid in duplicated:
            duplicated.add(key.kid)
            keys.pop(key.kid, None)
            continue
        keys[key.kid] = key
    for kid in sorted(duplicated):
        logger.warning("JWKS kid %r appears more than once; tokens naming it are refused", _clean(kid))
    return keys


class KeySource(Protocol):
    """Where verification keys come from: a file read at start, or the issuer's JWKS URL."""

    async def get(self, kid: str) -> VerificationKey | None: ...


class StaticKeys:
    """Keys fixed at start (``jwks_file``); rotating them means editing the file and restarting."""

    def __init__(self, keys: Mapping[str, VerificationKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_file(cls, path: Path, algorithms: frozenset[str]) -> StaticKeys:
        """Read and check the file now, so a broken key file stops the server from starting.

        Raises:
            ConfigError: unreadable, too large, not a JWKS, or without one usable key.
        """
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_JWKS_BYTES + 1)
            keys = parse_jwks(raw, algorithms)
        except OSError as exc:
            raise ConfigError(f"[auth.oidc] jwks_file {path}: cannot read it ({exc.strerror})") from None
        except JwksError as exc:
            raise ConfigError(f"[auth.oidc] jwks_file {path}: {exc}") from None
        if not keys:
            raise ConfigError(f"[auth.oidc] jwks_file {path}: no usable signing key for {sorted(algorithms)}")
        return cls(keys)

    async def get(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)


@lru_cache(maxsize=1)
def _jwks_tls() -> ssl.SSLContext:
    # Built once: loading the trust store costs ~30 ms, which every JWKS refresh paid before.
    # Compiled-in trust paths only (trust_env=False), like the client's own default.
    return httpx2.create_ssl_context(verify=True, trust_env=False)


async def fetch_jwks(url: str, timeout_s: float = JWKS_TIMEOUT_S, max_bytes: int = MAX_JWKS_BYTES) -> bytes:
    """GET the JWKS with a deadline on the whole exchange and a cap on the (decoded) body.

    Redirects are not followed and proxy/certificate settings from the environment are not read:
    the URL in the config is the only place keys may come from.

    Raises:
        JwksError: not a 200, too large, too slow, or the connection failed.
    """
    try:
        with anyio.fail_after(timeout_s):
            async with httpx2.AsyncClient(
                timeout=timeout_s, follow_redirects=False, trust_env=False, verify=_jwks_tls()
            ) as client:
                async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                    if response.status_code != 200:
                        raise JwksError(f"HTTP {response.status_code}")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise JwksError(f"larger than {max_bytes} bytes")
    except TimeoutError:
        raise JwksError(f"no complete answer within {timeout_s:g} s") from None
    except (httpx2.HTTPError, OSError) as exc:
        raise JwksError(f"{type(exc).__name__}") from None
    return bytes(body)


class RemoteKeys:
    """The issuer's JWKS from ``jwks_url``, cached.

    Fetched on first use, refreshed when older than ``ttl_s``, and refetched when a token names a
    ``kid`` the cache lacks (key rotation), but never more than once per ``min_interval_s``: a flood
    of tokens with made-up kids costs the issuer one request a minute. Concurrent requests share one
    fetch. When refreshing fails the last good keys stay in use (an issuer outage should not lock
    everyone out at once) until they are ``max_stale_s`` old; then every token is refused.
    """

    def __init__(
        self,
        url: str,
        algorithms: frozenset[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl_s: float = JWKS_TTL_S,
        min_interval_s: float = JWKS_REFETCH_INTERVAL_S,
        max_stale_s: float = JWKS_MAX_STALE_S,
        timeout_s: float = JWKS_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "http" and not _is_loopback(host):
            raise ConfigError(
                f"[auth.oidc] jwks_url {url}: plain http is accepted only on loopback; anyone on the path could "
                "substitute keys and mint tokens. Use https, or jwks_file."
            )
        if parts.scheme not in ("http", "https") or not host:
            raise ConfigError(f"[auth.oidc] jwks_url {url}: not an http(s) URL")
        self.url = url
        self._algorithms = algorithms
        self._clock = clock
        self._ttl_s = ttl_s
        self._min_interval_s = min_interval_s
        self._max_stale_s = max_stale_s
        self._timeout_s = timeout_s
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0  # attempts, for tests and diagnostics

    def _wants_fetch(self, kid: str) -> bool:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl_s
        if not stale and kid in self._keys:
            return False
        return self._attempted_at is None or now - self._attempted_at >= self._min_interval_s

    async def get(self, kid: str) -> VerificationKey | None:
        if self._wants_fetch(kid):
            async with self._lock:
                if self._wants_fetch(kid):  # another request may have fetched while this one waited
                    await self._refresh()
        if self._fetched_at is None or self._clock() - self._fetched_at > self._max_stale_s:
            return None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(await fetch_jwks(self.url, self._timeout_s), self._algorithms)
        except JwksError as exc:
            age = "never fetched" if self._fetched_at is None else f"{self._clock() - self._fetched_at:.0f} s old"
            logger.warning("JWKS refresh from %s failed: %s; keeping the previous keys (%s)", self.url, exc, age)
            return
        if not keys:
            logger.warning("JWKS from %s has no usable signing key: every token is refused", self.url)
        self._keys = keys
        self._fetched_at = self._clock()


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim, or None when absent. Strings and booleans are not dates."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Refused(f"'{name}' is not a number")
    return float(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    """Scopes from ``scope`` (RFC 9068: space-separated) and ``scp`` (a list, or a string as Entra sends).

    A scope string is split on U+0020 only (RFC 6749 section 3.3). ``str.split()`` would also split on
    NBSP, tabs, line breaks and other Unicode spaces, so ``project:demo<NBSP>tool:write_file``, one
    scope to the issuer, would grant ``write_file`` here.
    """
    found: list[str] = []
    for name in ("scope", "scp"):
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, str):
            found.extend(part for part in value.split(" ") if part)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            found.extend(value)
        else:
            raise _Refused(f"'{name}' is neither a string nor a list of strings")
    return found


class OidcTokenVerifier:
    """Satisfies the SDK's ``TokenVerifier`` protocol for JWT access tokens from one issuer."""

    def __init__(self, settings: OidcConfig, resource: str, keys: KeySource) -> None:
        if not settings.tool_scope_prefix:
            raise ConfigError(
                "[auth.oidc] tool_scope_prefix must not be empty: every scope the issuer grants for any "
                "purpose would then be read as a tool name"
            )
        self._settings = settings
        self._resource = resource
        self._keys = keys
        self._algorithms = frozenset(settings.algorithms)

    @classmethod
    def from_config(cls, settings: OidcConfig, resource: str, base_dir: Path) -> OidcTokenVerifier:
        """The verifier with its key source; a ``jwks_file`` is read now.

        Raises:
            ConfigError: the key file is unusable, the JWKS URL is plain http off loopback, or the
                tool scope prefix is empty.
        """
        algorithms = frozenset(settings.algorithms)
        keys: KeySource
        if settings.jwks_file is not None:
            path = settings.jwks_file if settings.jwks_file.is_absolute() else base_dir / settings.jwks_file
            keys = StaticKeys.from_file(path, algorithms)
        elif settings.jwks_url is not None:
            keys = RemoteKeys(settings.jwks_url, algorithms)
        else:  # OidcConfig already requires exactly one source; never run without keys regardless
            raise ConfigError("[auth.oidc] needs 'jwks_url' or 'jwks_file'")
        return cls(settings, resource, keys)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's principal and tool scopes, or None (401) for anything not fully valid."""
        try:
            return await self._verify(token)
        except _Refused as exc:
            logger.warning("OIDC token refused: %s", exc)
        except jwt.PyJWTError as exc:
            logger.warning("OIDC token refused: %s (%s)", type(exc).__name__, _clean(exc))
        except Exception as exc:  # fail closed: a verifier bug is a 401, never a 500 or a pass
            logger.warning("OIDC token refused: unexpected %s while verifying", type(exc).__name__)
        return None

    async def _verify(self, token: str) -> AccessToken:
        settings = self._settings
        if len(token) > MAX_TOKEN_CHARS:
            raise _Refused(f"longer than {MAX_TOKEN_CHARS} characters")
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise _Refused(f"algorithm {_clean(alg)!r} is not one of {sorted(self._algorithms)}")
        if "crit" in header or "b64" in header:
            raise _Refused("critical header extensions are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _Refused("no 'kid' in the header")
        key = await self._keys.get(kid)
        if key is None:
            raise _Refused(f"no key with kid {_clean(kid)!r} from the issuer")
        if not key.fits(alg):
            raise _Refused(f"key {_clean(kid)!r} cannot verify {alg}")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[alg],  # one algorithm, already checked against the config and the key
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_s,
            options={
                "verify_signature": True,
                "require": ["exp", "iss", "aud"],
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_iss": True,
                "verify_aud": True,
                "enforce_minimum_key_length": True,
            },
        )
        # Every NumericDate present is checked, each on its own: PyJWT reads ``int(value)``, so "0",
        # false or " 1 " pass its time checks, and a short-circuit here once skipped ``nbf``.
        dates = {name: _number(claims, name) for name in ("exp", "iat", "nbf")}
        expires = dates["exp"]
        if expires is None:
            raise _Refused("no 'exp'")
        if dates["iat"] is None and dates["nbf"] is None:
            raise _Refused("neither 'iat' nor 'nbf'")
        principal = claims.get(settings.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise _Refused(f"'{settings.principal_claim}' is missing or not a non-empty string")
        if len(principal) > MAX_PRINCIPAL_CHARS or not principal.isprintable():
            raise _Refused(f"'{settings.principal_claim}' is too long or has unprintable characters")
        prefix = settings.tool_scope_prefix
        tools = dict.fromkeys(scope[len(prefix) :] for scope in _scopes(claims) if scope.startswith(prefix))
        tools.pop("", None)
        return AccessToken(
            token=token,
            client_id=f"{PRINCIPAL_PREFIX}{principal}",
            scopes=[f"{TOOL_SCOPE_PREFIX}{tool}" for tool in tools],
            # The SDK re-checks this on every request without leeway; give it the same leeway.
            expires_at=math.floor(expires) + settings.leeway_s,
            resource=self._resource,  # the audience was checked above against [auth.oidc] audience
            subject=principal,
            claims={"iss": settings.issuer},
        )
