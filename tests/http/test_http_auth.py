"""Bearer auth, per-token tools and Host/Origin checks over real HTTP on loopback, both transports.

One ``secure-mcp serve`` subprocess per transport serves the module. Raw HTTP requests check the
status codes and headers a standard client relies on; the Python SDK client checks what a token
sees and may call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from secure_mcp.http.tokens import hash_token
from tests.http.servers import (
    AGENT,
    INITIALIZE,
    JSON_HEADERS,
    NARROW,
    WIDE,
    Served,
    http_server,
    sdk_client,
    write_config,
)

pytestmark = pytest.mark.process

PROXY_HOST = "mcp.proxy.test"
PROXY_ORIGIN = "https://app.proxy.test"


@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"auth-{request.param}")
    extra = f'[server]\nallowed_hosts = ["{PROXY_HOST}"]\nallowed_origins = ["{PROXY_ORIGIN}"]\n'
    with http_server(write_config(folder, tokens=(AGENT, NARROW, WIDE), extra=extra), request.param) as server:
        yield server


def is_sse(served: Served) -> bool:
    return served.endpoint.endswith("/sse")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def open_endpoint(served: Served, headers: dict[str, str]) -> int:
    """The status of the first request a client makes: GET /sse (stream) or POST initialize."""
    if is_sse(served):
        with httpx2.stream("GET", served.endpoint, headers={"Accept": "text/event-stream", **headers}, timeout=5) as r:
            return r.status_code
    return httpx2.post(served.endpoint, json=INITIALIZE, headers={**JSON_HEADERS, **headers}, timeout=5).status_code


def first_response(served: Served, headers: dict[str, str]) -> httpx2.Response:
    if is_sse(served):
        with httpx2.stream("GET", served.endpoint, headers={"Accept": "text/event-stream", **headers}, timeout=5) as r:
            r.read()
            return r
    return httpx2.post(served.endpoint, json=INITIALIZE, headers={**JSON_HEADERS, **headers}, timeout=5)


# ------------------------------------------------------------------------------ 401 and metadata


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param(bearer("smcp_not-a-configured-token"), id="unknown-token"),
        pytest.param(bearer(AGENT.secret[:-1]), id="truncated-token"),
        pytest.param({"Authorization": f"Basic {AGENT.secret}"}, id="wrong-scheme"),
        pytest.param(bearer(hash_token(AGENT.secret)), id="stored-digest"),
    ],
)
def test_missing_or_bad_credentials_get_a_standard_401(served: Served, headers: dict[str, str]) -> None:
    """401 + ``WWW-Authenticate: Bearer error="invalid_token"`` pointing at the resource metadata."""
    response = first_response(served, headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    path = "/sse" if is_sse(served) else "/mcp"
    assert f'resource_metadata="{served.base}/.well-known/oauth-protected-resource{path}"' in challenge
    assert response.json()["error"] == "invalid_token"


def test_protected_resource_metadata_is_served(served: Served) -> None:
    """RFC 9728 metadata names this endpoint as the resource and header bearer tokens as the method."""
    challenge = first_response(served, {}).headers["www-authenticate"]
    match = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert match is not None
    metadata = httpx2.get(match.group(1), timeout=5)
    assert metadata.status_code == 200
    body = metadata.json()
    assert body["resource"] == served.endpoint
    assert body["bearer_methods_supported"] == ["header"]


def test_every_other_endpoint_also_needs_the_token(served: Served) -> None:
    """Not only the first request: SSE's message POST, streamable HTTP's GET stream and DELETE too."""
    if is_sse(served):
        statuses = [
            httpx2.post(f"{served.base}/messages/?session_id=0", json=INITIALIZE, headers=JSON_HEADERS).status_code
        ]
    else:
        statuses = [
            httpx2.get(served.endpoint, headers={"Accept": "text/event-stream"}, timeout=5).status_code,
            httpx2.delete(served.endpoint, headers={"mcp-session-id": "0"}, timeout=5).status_code,
        ]
    assert statuses and all(status == 401 for status in statuses)


def test_health_route_says_nothing_but_ok(served: Served) -> None:
    response = httpx2.get(f"{served.base}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# ---------------------------------------------------------------------------------- per-token tools


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("token", "tools"),
    [(AGENT, {"write_file"}), (NARROW, {"fetch_url"}), (WIDE, {"write_file", "fetch_url"})],
    ids=["agent", "narrow", "wide"],
)
async def test_tools_list_shows_a_token_only_its_tools(served: Served, token: Any, tools: set[str]) -> None:
    async with sdk_client(served, token.secret) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == tools


@pytest.mark.anyio
async def test_good_token_calls_its_tool(served: Served) -> None:
    name = f"good-{served.endpoint.rsplit('/', 1)[1]}.txt"
    async with sdk_client(served, AGENT.secret) as client:
        result = await client.call_tool("write_file", {"path": name, "content": "ok"})
    assert not result.is_error, result
    assert (served.workspace / name).read_text() == "ok"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("write_file", {"path": "narrow.txt", "content": "x"}),
        ("run_command", {"command": "ls"}),
        ("execute_python", {"code": "print(1)"}),
    ],
)
async def test_wrong_scope_token_is_refused_by_auth_naming_token_and_tool(
    served: Served, tool: str, arguments: dict[str, Any]
) -> None:
    """A tool outside the grant is refused before anything else, even when named directly."""
    async with sdk_client(served, NARROW.secret) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert result.content[0].text == f"blocked by auth: token 'narrow' may not call {tool}"  # type: ignore[union-attr]
    assert not (served.workspace / "narrow.txt").exists()


# ------------------------------------------------------------------------------ Host and Origin


def test_a_foreign_host_header_is_refused_even_with_a_good_token(served: Served) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends ``Host: evil.example``."""
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": "evil.example"}) == 421
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": "evil.example:80"}) == 421
    port = int(served.base.rsplit(":", 1)[1])
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": f"127.0.0.1:{port}.evil.example"}) == 421
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": f"localhost:{port + 1}"}) == 421


def test_a_foreign_origin_is_refused_even_with_a_good_token(served: Served) -> None:
    assert open_endpoint(served, {**bearer(AGENT.secret), "Origin": "https://evil.example"}) == 403
    assert open_endpoint(served, {**bearer(AGENT.secret), "Origin": "null"}) == 403


def test_loopback_host_and_origin_are_admitted(served: Served) -> None:
    port = served.base.rsplit(":", 1)[1]
    assert open_endpoint(served, {**bearer(AGENT.secret), "Origin": f"http://127.0.0.1:{port}"}) == 200
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": f"localhost:{port}"}) == 200


def test_configured_proxy_host_and_origin_are_admitted(served: Served) -> None:
    """``[server] allowed_hosts`` / ``allowed_origins`` admit what a reverse proxy forwards."""
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": PROXY_HOST}) == 200
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": PROXY_HOST, "Origin": PROXY_ORIGIN}) == 200
    # ... and only exactly that: another port, or a look-alike suffix, is still foreign.
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": f"{PROXY_HOST}:8443"}) == 421
    assert open_endpoint(served, {**bearer(AGENT.secret), "Host": f"{PROXY_HOST}.evil.example"}) == 421


# ------------------------------------------------------------------------------ session binding


def test_a_session_cannot_be_used_with_another_token(served: Served) -> None:
    """A session id learnt from one token's connection is useless with another token (404)."""
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    if is_sse(served):
        with httpx2.stream(
            "GET", served.endpoint, headers={"Accept": "text/event-stream", **bearer(AGENT.secret)}, timeout=5
        ) as stream:
            lines = stream.iter_lines()  # kept alive: closing the iterator would close the stream
            endpoint = next(line for line in lines if line.startswith("data:")).split(":", 1)[1].strip()
            url = f"{served.base}{endpoint}"
            stolen = httpx2.post(url, json=INITIALIZE, headers={**JSON_HEADERS, **bearer(NARROW.secret)}, timeout=5)
            owned = httpx2.post(url, json=INITIALIZE, headers={**JSON_HEADERS, **bearer(AGENT.secret)}, timeout=5)
        assert stolen.status_code == 404
        assert owned.status_code == 202
        return
    opened = httpx2.post(served.endpoint, json=INITIALIZE, headers={**JSON_HEADERS, **bearer(AGENT.secret)}, timeout=5)
    session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    stolen = httpx2.post(
        served.endpoint, json=tools_list, headers={**JSON_HEADERS, **session, **bearer(NARROW.secret)}, timeout=5
    )
    assert stolen.status_code == 404
