"""``[auth] disabled = true`` next to configured tokens or OIDC is refused at start, not obeyed.

0.1 obeyed ``disabled`` and silently dropped the configured tokens, so on loopback a request with
no token ran ``write_file``. The combination says two opposite things; the server now refuses it
with one line (exit 2) before binding anything, so nothing without a token can run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import pytest

from secure_mcp.config import parse_config
from secure_mcp.errors import ConfigError
from tests.http.servers import AGENT, INITIALIZE, JSON_HEADERS, free_port, serve_command, server_env, write_config

OIDC = {"issuer": "https://login.example.test/realms/acme", "audience": "secure-mcp", "jwks_file": "keys.json"}
REFUSAL = "[auth] disabled = true cannot be combined with"


@pytest.mark.parametrize(
    "auth",
    [
        {"disabled": True, "tokens": [{"name": "ci", "sha256": "0" * 64, "tools": ["write_file"]}]},
        {"disabled": True, "oidc": OIDC},
    ],
    ids=["static-tokens", "oidc"],
)
def test_disabled_with_configured_auth_is_a_config_error(tmp_path: Path, auth: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"auth": auth}, tmp_path)
    message = str(caught.value)
    assert REFUSAL in message
    assert "\n" not in message


def test_disabled_alone_and_tokens_alone_are_still_valid(tmp_path: Path) -> None:
    assert parse_config({"auth": {"disabled": True}}, tmp_path).auth.disabled
    tokens = parse_config({"auth": {"tokens": [{"name": "ci", "sha256": "0" * 64}]}}, tmp_path).auth
    assert not tokens.disabled and len(tokens.tokens) == 1


@pytest.mark.process
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_serve_refuses_the_combination_and_no_tokenless_request_writes(tmp_path: Path, transport: str) -> None:
    config = write_config(tmp_path, tokens=(AGENT,), extra="[auth]\ndisabled = true\n")
    port = free_port()
    done = subprocess.run(
        serve_command(config, transport, port),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=server_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2, lines
    assert len(lines) == 1 and REFUSAL in lines[0], lines
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "write_file", "arguments": {"path": "owned.txt", "content": "x"}},
    }
    for message in (INITIALIZE, call):  # a client without a token finds nothing listening
        with pytest.raises(httpx2.ConnectError):
            httpx2.post(f"http://127.0.0.1:{port}/mcp", json=message, headers=JSON_HEADERS, timeout=5)
    assert not (tmp_path / "workspace" / "owned.txt").exists()
