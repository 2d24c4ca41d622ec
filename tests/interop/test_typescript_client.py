"""Interop: the official TypeScript MCP SDK clients drive real ``secure-mcp serve`` subprocesses.

Nothing in the client was written against this server: ``client.mjs`` only wires the SDK's own
``Client`` and transports together (``@modelcontextprotocol/sdk`` 1.x, the 2025-11-25 handshake;
``@modelcontextprotocol/client`` 2.x pinned to 2026-07-28). If ``node`` or ``node_modules`` is missing
the tests skip, but with ``SECURE_MCP_REQUIRE_DOCKER=1`` (CI: everything must run) they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from secure_mcp.server import local_principal
from tests.http.servers import AGENT, NARROW, Served, http_server, serve_command, server_env, write_config

HERE = Path(__file__).parent
CLIENT = HERE / "client.mjs"
CLIENT_TIMEOUT_S = 90
ALL_TOOLS = ["run_command", "write_file", "execute_python", "fetch_url"]


@dataclass(frozen=True)
class Sdk:
    """One official client line and the protocol version it must end up speaking."""

    flag: str
    era: str
    package: str
    protocol: str


V1 = Sdk("v1", "legacy", "sdk", "2025-11-25")
V2 = Sdk("v2", "modern", "client", "2026-07-28")
REQUIRE_EVERYTHING = os.environ.get("SECURE_MCP_REQUIRE_DOCKER") == "1"
pytestmark = pytest.mark.node


def node_problem(sdk: Sdk) -> str | None:
    """Why this client cannot run here (no node, no node_modules), or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "@modelcontextprotocol" / sdk.package).is_dir():
        return f"@modelcontextprotocol/{sdk.package} is not installed: run `npm ci` in tests/interop"
    return None


def sdk_param(sdk: Sdk, test_id: str) -> Any:
    """The parameter, marked skip at collection when its client is missing: the decision is taken
    before any fixture starts a server. With SECURE_MCP_REQUIRE_DOCKER=1 it is not skipped, and
    ``node_for`` fails the test instead."""
    problem = node_problem(sdk)
    marks = [pytest.mark.skip(reason=problem)] if problem is not None and not REQUIRE_EVERYTHING else []
    return pytest.param(sdk, id=test_id, marks=marks)


SDKS = [sdk_param(V1, "sdk1-2025-11-25"), sdk_param(V2, "client2-2026-07-28")]


@dataclass(frozen=True)
class Run:
    code: int
    out: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.out["result"]["text"])


def node_for(sdk: Sdk) -> str:
    """The ``node`` binary, or skip (locally) / fail (CI) saying what is missing."""
    problem = node_problem(sdk)
    if problem is not None:
        if REQUIRE_EVERYTHING:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    node = shutil.which("node")
    assert node is not None
    return node


def run_client(sdk: Sdk, *args: str, tool: str | None = None, tool_args: dict[str, Any] | None = None) -> Run:
    """Run ``client.mjs`` once (bounded in time) and parse the one JSON line it prints.

    ``args`` are client options, optionally followed by ``--`` and the stdio server command.
    """
    options, server = (args[: args.index("--")], args[args.index("--") :]) if "--" in args else (args, ())
    command = [node_for(sdk), str(CLIENT), "--sdk", sdk.flag, "--era", sdk.era, "--timeout", "30000", *options]
    if tool is not None:
        command += ["--tool", tool, "--args", json.dumps(tool_args or {})]
    command += server
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        env=server_env(),
        cwd=HERE,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"client printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
    return Run(done.returncode, json.loads(lines[-1]))


# ----------------------------------------------------------------------------------------- stdio


@pytest.fixture
def stdio_config(tmp_path: Path) -> Path:
    config = write_config(tmp_path, tokens=())
    (tmp_path / "workspace" / "existing.txt").write_text("old content\n")
    return config


def stdio(sdk: Sdk, config: Path, elicit: str, tool: str, tool_args: dict[str, Any]) -> Run:
    server = ("--", *serve_command(config))
    return run_client(sdk, "--elicit", elicit, "--transport", "stdio", *server, tool=tool, tool_args=tool_args)


@pytest.mark.parametrize("sdk", SDKS)
def test_stdio_lists_every_tool_and_a_create_succeeds(sdk: Sdk, stdio_config: Path) -> None:
    """The handshake completes in the client's era; tools/list has all four; write_file create works."""
    run = stdio(sdk, stdio_config, "accept", "write_file", {"path": "notes/hello.txt", "content": "hello"})
    assert run.code == 0, run.out
    assert run.out["protocolVersion"] == sdk.protocol
    assert run.out["tools"] == ALL_TOOLS
    written = stdio_config.parent / "workspace" / "notes" / "hello.txt"
    assert written.read_text() == "hello"
    structured = run.out["result"]["structuredContent"]
    assert structured["created"] is True
    assert structured["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert run.out["elicitations"] == []  # a create needs no human yes


@pytest.mark.parametrize("sdk", SDKS)
def test_stdio_refusal_reaches_the_client_as_a_readable_error_result(sdk: Sdk, stdio_config: Path) -> None:
    """``../x`` is refused by validate, as an is_error tool result the client can show, and nothing is written."""
    run = stdio(sdk, stdio_config, "accept", "write_file", {"path": "../x", "content": "escape"})
    assert run.code == 2, run.out
    assert run.out["result"]["isError"] is True
    assert run.text.startswith("blocked by validate: ")
    assert not (stdio_config.parent / "x").exists()


@pytest.mark.parametrize("sdk", SDKS)
def test_stdio_overwrite_accepted_changes_the_file(sdk: Sdk, stdio_config: Path) -> None:
    """Elicitation reaches the official client with the diff and the principal; accept lets it run."""
    run = stdio(
        sdk, stdio_config, "accept", "write_file", {"path": "existing.txt", "content": "new\n", "mode": "overwrite"}
    )
    assert run.code == 0, run.out
    assert (stdio_config.parent / "workspace" / "existing.txt").read_text() == "new\n"
    [asked] = run.out["elicitations"]
    assert f"requested by: {local_principal()} (over stdio)" in asked["message"]
    assert "-old content" in asked["message"] and "+new" in asked["message"]


@pytest.mark.parametrize("sdk", SDKS)
def test_stdio_overwrite_declined_keeps_the_file(sdk: Sdk, stdio_config: Path) -> None:
    """Decline refuses the call at confirm and the file is untouched."""
    run = stdio(
        sdk, stdio_config, "decline", "write_file", {"path": "existing.txt", "content": "new\n", "mode": "overwrite"}
    )
    assert run.code == 2, run.out
    assert run.text.startswith("blocked by confirm: ")
    assert len(run.out["elicitations"]) == 1
    assert (stdio_config.parent / "workspace" / "existing.txt").read_text() == "old content\n"


# ------------------------------------------------------------------------------ SSE and HTTP


@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server per HTTP transport for the module, with tokens ``agent`` (write_file) and ``narrow``."""
    folder = tmp_path_factory.mktemp(f"interop-{request.param}")
    with http_server(write_config(folder, tokens=(AGENT, NARROW)), request.param) as server:
        yield server


def remote(
    sdk: Sdk, server: Served, *args: str, tool: str | None = None, tool_args: dict[str, Any] | None = None
) -> Run:
    transport = "sse" if server.endpoint.endswith("/sse") else "http"
    return run_client(sdk, "--transport", transport, "--url", server.endpoint, *args, tool=tool, tool_args=tool_args)


@pytest.mark.parametrize("sdk", SDKS)
def test_http_without_a_token_the_client_fails_with_401(sdk: Sdk, served: Served) -> None:
    run = remote(sdk, served)
    assert run.code == 4, run.out
    assert run.out["error"]["httpStatus"] == 401
    assert run.out["tools"] is None


@pytest.mark.parametrize("sdk", SDKS)
def test_http_with_an_unknown_token_the_client_fails_with_401(sdk: Sdk, served: Served) -> None:
    run = remote(sdk, served, "--bearer", AGENT.secret + "x")
    assert run.code == 4, run.out
    assert run.out["error"]["httpStatus"] == 401


@pytest.mark.parametrize("sdk", SDKS)
def test_http_token_sees_its_tools_and_a_create_succeeds(sdk: Sdk, served: Served) -> None:
    name = f"created-{sdk.flag}.txt"
    run = remote(sdk, served, "--bearer", AGENT.secret, tool="write_file", tool_args={"path": name, "content": "hi"})
    assert run.code == 0, run.out
    assert run.out["protocolVersion"] == sdk.protocol
    assert run.out["tools"] == ["write_file"]
    assert (served.workspace / name).read_text() == "hi"


@pytest.mark.parametrize("sdk", SDKS)
def test_http_refusal_is_a_readable_error_result(sdk: Sdk, served: Served) -> None:
    run = remote(sdk, served, "--bearer", AGENT.secret, tool="write_file", tool_args={"path": "../x", "content": "e"})
    assert run.code == 2, run.out
    assert run.text.startswith("blocked by validate: ")
    assert not (served.folder / "x").exists()


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_http_overwrite_confirmation(sdk: Sdk, served: Served, answer: str) -> None:
    """Accept changes the file; decline leaves it; the prompt names the token's principal and transport."""
    target = served.workspace / f"confirm-{sdk.flag}-{answer}.txt"
    target.write_text("before\n")
    run = remote(
        sdk,
        served,
        "--bearer",
        AGENT.secret,
        "--elicit",
        answer,
        tool="write_file",
        tool_args={"path": target.name, "content": "after\n", "mode": "overwrite"},
    )
    [asked] = run.out["elicitations"]
    transport = "sse" if served.endpoint.endswith("/sse") else "streamable-http"
    assert f"requested by: agent (over {transport})" in asked["message"]
    if answer == "accept":
        assert run.code == 0, run.out
        assert target.read_text() == "after\n"
    else:
        assert run.code == 2, run.out
        assert run.text.startswith("blocked by confirm: ")
        assert target.read_text() == "before\n"


@pytest.mark.parametrize("sdk", SDKS)
def test_http_token_lacking_the_tool_is_refused_by_auth(sdk: Sdk, served: Served) -> None:
    """A token given only fetch_url neither sees nor may call write_file, even by naming it."""
    run = remote(sdk, served, "--bearer", NARROW.secret, tool="write_file", tool_args={"path": "n.txt", "content": "x"})
    assert run.out["tools"] == ["fetch_url"]
    assert run.code == 2, run.out
    assert run.text == "blocked by auth: token 'narrow' may not call write_file"
    assert not (served.workspace / "n.txt").exists()
