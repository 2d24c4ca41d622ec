"""``secure-mcp token create``: a fresh token printed once, config lines that a server accepts."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from secure_mcp.config import parse_config
from secure_mcp.http.token_command import create_token
from secure_mcp.http.tokens import hash_token
from tests.http.servers import http_server, sdk_client, server_env

pytestmark = pytest.mark.process

HEADER = "token (shown once; give it to the client as 'Authorization: Bearer <token>'):"


@dataclass(frozen=True)
class Created:
    token: str
    table: str
    stdout: str


def token_create(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_mcp", "token", "create", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )


def created(name: str, tools: str) -> Created:
    done = token_create("--name", name, "--tools", tools)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == HEADER
    token = lines[1]
    table = done.stdout.split("add to config.toml:\n", 1)[1]
    return Created(token=token, table=table, stdout=done.stdout)


def test_prints_a_fresh_token_once_and_the_config_table_with_its_sha256(tmp_path: Path) -> None:
    made = created("ci-agent", "write_file,fetch_url")
    assert made.token.startswith("smcp_") and len(made.token) >= 40
    assert made.stdout.count(made.token) == 1  # shown once; the table holds only the digest
    [entry] = tomllib.loads(made.table)["auth"]["tokens"]
    assert entry == {"name": "ci-agent", "sha256": hash_token(made.token), "tools": ["write_file", "fetch_url"]}
    config = parse_config(tomllib.loads(made.table), tmp_path)  # valid under the real config model
    assert config.auth.tokens[0].name == "ci-agent"
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere: the token is stored nowhere


def test_every_run_makes_a_different_token() -> None:
    assert len({created("a", "fetch_url").token for _ in range(3)}) == 3


def test_repeated_tools_are_listed_once() -> None:
    [entry] = tomllib.loads(created("a", "fetch_url, fetch_url ,write_file").table)["auth"]["tokens"]
    assert entry["tools"] == ["fetch_url", "write_file"]


@pytest.mark.parametrize(
    ("name", "tools", "says"),
    [
        ("bad name", "fetch_url", "--name"),
        ('x"\ninjected = true', "fetch_url", "--name"),
        ("ci\n", "fetch_url", "--name"),
        ("a" * 65, "fetch_url", "--name"),
        ("ci", "fetch_url,rm_rf", "rm_rf"),
        ("ci", "", "none"),
        ("ci", " , ", "none"),
    ],
)
def test_bad_arguments_print_no_token_and_exit_2(name: str, tools: str, says: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert create_token(name, tools, out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("error: ") and says in err.getvalue()


def test_cli_usage_error_goes_to_stderr() -> None:
    done = token_create("--name", "ci", "--tools", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: --tools" in done.stderr


@pytest.mark.anyio
async def test_a_server_started_with_the_printed_lines_accepts_the_token(tmp_path: Path) -> None:
    made = created("pasted", "write_file,fetch_url")
    (tmp_path / "workspace").mkdir()
    config = tmp_path / "config.toml"
    config.write_text("[sandbox]\nwarm_pool = 0\n\n" + made.table)
    with http_server(config, "streamable-http") as served:
        async with sdk_client(served, made.token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("write_file", {"path": "pasted.txt", "content": "ok"})
        async with sdk_client(served, made.token, mode="auto") as modern:
            denied = await modern.call_tool("run_command", {"command": "ls"})
    assert names == {"write_file", "fetch_url"}
    assert not result.is_error
    assert (tmp_path / "workspace" / "pasted.txt").read_text() == "ok"
    assert denied.content[0].text == "blocked by auth: token 'pasted' may not call run_command"  # type: ignore[union-attr]
