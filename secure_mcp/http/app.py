"""Builds the Starlette app for SSE or streamable HTTP, with auth and Host/Origin checks on.

The SDK turns DNS-rebinding protection off when bound to 0.0.0.0 without settings; here it is
always on, with loopback names on the bound port plus ``[server] allowed_hosts``/``allowed_origins``. Binding a
non-loopback address needs configured auth (static tokens or ``[auth.oidc]``); without either, loopback
needs ``[auth] disabled``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from secure_mcp.config import Config
from secure_mcp.errors import ConfigError
from secure_mcp.http.oidc import OidcTokenVerifier
from secure_mcp.http.sessions import (
    RateCharger,
    SessionPolicy,
    SessionTable,
    SseMessageGate,
    SseStreamGate,
    StreamableSessionGate,
)
from secure_mcp.http.tokens import ChainTokenVerifier, ConfigTokenVerifier
from secure_mcp.server import ServerOptions

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
MCP_PATH = "/mcp"


def is_loopback_host(host: str) -> bool:
    """True only for names and addresses that stay on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_configured(config: Config) -> bool:
    """Whether some credential can be verified: static tokens, an OIDC issuer, or both."""
    return bool(config.auth.tokens) or config.auth.oidc is not None


def check_bind(config: Config, host: str) -> None:
    """Refuse to start an HTTP transport that would take calls nobody authenticated.

    Raises:
        ConfigError: non-loopback bind without configured auth, or loopback without it and not disabled.
    """
    configured = auth_configured(config)
    if not is_loopback_host(host):
        if not configured or config.auth.disabled:
            raise ConfigError(
                f"refusing to bind {host}: a non-loopback address needs bearer tokens ([[auth.tokens]], "
                "see `secure-mcp token create`) or [auth.oidc], and [auth] disabled = false"
            )
        return
    if not configured and not config.auth.disabled:
        raise ConfigError(
            "the HTTP transports need bearer tokens: add one with `secure-mcp token create` or configure "
            "[auth.oidc], or, on a loopback address only, set [auth] disabled = true"
        )


def resource_url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{path}"


def token_verifier(config: Config, resource: str) -> TokenVerifier:
    """Static tokens alone, or static tokens then OIDC JWTs when ``[auth.oidc]`` is set.

    Raises:
        ConfigError: the OIDC key source is unusable (see ``OidcTokenVerifier.from_config``).
    """
    static = ConfigTokenVerifier(config.auth.tokens, resource)
    if config.auth.oidc is None:
        return static
    return ChainTokenVerifier(static, OidcTokenVerifier.from_config(config.auth.oidc, resource, config.base_dir))


def auth_kwargs(config: Config, host: str, port: int, path: str) -> ServerOptions:
    """``MCPServer`` keyword arguments for bearer auth (empty when auth is disabled on loopback).

    With ``[auth.oidc]`` the protected-resource metadata names the issuer as the authorization
    server, so an OAuth-discovering client is sent where tokens actually come from. Without it,
    the server's own URL stands in (tokens are handed out by an administrator).

    Raises:
        ConfigError: the OIDC key source is unusable.
    """
    if config.auth.disabled:
        return {}
    resource = resource_url(host, port, path)
    issuer = config.auth.oidc.issuer if config.auth.oidc is not None else resource_url(host, port, "")
    return {
        "token_verifier": token_verifier(config, resource),
        "auth": AuthSettings(
            issuer_url=issuer,  # type: ignore[arg-type]
            resource_server_url=resource,  # type: ignore[arg-type]
            required_scopes=None,
            validate_token_resource=True,
        ),
    }


def transport_security(config: Config, host: str, port: int) -> TransportSecuritySettings:
    """Host and Origin allow-lists, on for every bind address.

    Loopback Hosts are admitted only with the bound port: the SDK's ``name:*`` wildcard is a prefix
    match (``127.0.0.1:anything`` would pass), and a client reaching this server always names its
    port. Origins keep the wildcard so a local browser client on another port still works.
    """
    hosts = [f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")]
    origins = [f"http://{name}:*" for name in ("127.0.0.1", "localhost", "[::1]")]
    bound = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    if bound not in hosts:  # the bound address itself (127.0.0.2, a LAN IP); proxies: allowed_hosts
        hosts.append(bound)
    hosts.extend(config.server.allowed_hosts)
    origins.extend(config.server.allowed_origins)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


async def healthz(request: Request) -> Response:
    """Liveness only: says nothing about tools, tokens or configuration."""
    return JSONResponse({"status": "ok"})


def build_app(
    server: Any, config: Config, transport: str, host: str, port: int, limits: RateCharger | None = None
) -> Starlette:
    """The ASGI app for ``sse`` or ``streamable-http`` with ``/healthz`` added.

    The MCP endpoints are wrapped by the session gates (``sessions.py``): per-principal session caps,
    idle expiry and, given ``limits`` (the pipeline's ``LimitsGuard``), a rate charge per opening.
    """
    security = transport_security(config, host, port)
    server.custom_route("/healthz", methods=["GET"])(healthz)
    idle_s = config.limits.session_idle_timeout_s
    policy = SessionPolicy(
        SessionTable(config.limits.max_sessions, idle_s), limits, auth_required=not config.auth.disabled
    )
    if transport == "sse":
        app: Starlette = server.sse_app(transport_security=security, host=host)
        _wrap_route(app, "/sse", SseStreamGate, policy)
        _wrap_route(app, "/messages", SseMessageGate, policy)
    else:
        app = server.streamable_http_app(transport_security=security, host=host, session_idle_timeout=idle_s)
        _wrap_route(app, MCP_PATH, StreamableSessionGate, policy)
    app.state.session_policy = policy  # serve ends its streams at shutdown
    return app


def _wrap_route(
    app: Starlette, path: str, gate: Callable[[ASGIApp, SessionPolicy], ASGIApp], policy: SessionPolicy
) -> None:
    """Put ``gate`` around the endpoint at ``path``: inside the app's auth middleware, so it sees the user.

    Raises:
        RuntimeError: no such route (an SDK change): the server must not run without its gates.
    """
    for route in app.routes:
        if isinstance(route, Route | Mount) and route.path == path:
            route.app = gate(route.app, policy)
            return
    raise RuntimeError(f"the SDK app has no route {path}: the session limits cannot be applied")
