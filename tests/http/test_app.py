"""Start-up decisions of the HTTP app: who may bind where, and which Host/Origin values pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secure_mcp.config import Config, parse_config
from secure_mcp.errors import ConfigError
from secure_mcp.http.app import auth_kwargs, check_bind, is_loopback_host, transport_security
from secure_mcp.http.tokens import ConfigTokenVerifier, hash_token

TOKEN = {"name": "ci", "sha256": hash_token("smcp_x"), "tools": ["fetch_url"]}


def config(tmp_path: Path, **sections: Any) -> Config:
    return parse_config(sections, tmp_path)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_names(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", "localhost.example.com", ""])
def test_everything_else_is_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_non_loopback_bind_needs_tokens_and_auth_enabled(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="refusing to bind 0.0.0.0"):
        check_bind(config(tmp_path, auth={"disabled": True}), "0.0.0.0")
    with pytest.raises(ConfigError, match="disabled = true cannot be combined"):
        config(tmp_path, auth={"disabled": True, "tokens": [TOKEN]})  # refused before any bind is tried
    check_bind(config(tmp_path, auth={"tokens": [TOKEN]}), "0.0.0.0")


def test_loopback_without_tokens_needs_auth_explicitly_disabled(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token create"):
        check_bind(config(tmp_path), "127.0.0.1")
    check_bind(config(tmp_path, auth={"disabled": True}), "127.0.0.1")


def test_auth_is_the_config_verifier_with_the_resource_checked(tmp_path: Path) -> None:
    kwargs = auth_kwargs(config(tmp_path, auth={"tokens": [TOKEN]}), "127.0.0.1", 8765, "/mcp")
    assert isinstance(kwargs["token_verifier"], ConfigTokenVerifier)
    assert str(kwargs["auth"].resource_server_url) == "http://127.0.0.1:8765/mcp"
    assert kwargs["auth"].validate_token_resource is True
    assert auth_kwargs(config(tmp_path, auth={"disabled": True}), "127.0.0.1", 8765, "/mcp") == {}


def test_loopback_hosts_name_the_bound_port_and_proxies_are_added(tmp_path: Path) -> None:
    cfg = config(tmp_path, server={"allowed_hosts": ["mcp.example.com"], "allowed_origins": ["https://app.example"]})
    settings = transport_security(cfg, "127.0.0.1", 8765)
    assert settings.enable_dns_rebinding_protection
    assert settings.allowed_hosts == ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "mcp.example.com"]
    assert "https://app.example" in settings.allowed_origins
    assert not any(host.endswith(":*") for host in settings.allowed_hosts)


@pytest.mark.parametrize(
    ("bind", "extra"), [("0.0.0.0", "0.0.0.0:9000"), ("::", "[::]:9000"), ("127.0.0.2", "127.0.0.2:9000")]
)
def test_protection_stays_on_for_any_bind_and_admits_the_bound_address(tmp_path: Path, bind: str, extra: str) -> None:
    settings = transport_security(config(tmp_path), bind, 9000)
    assert settings.enable_dns_rebinding_protection
    assert extra in settings.allowed_hosts
