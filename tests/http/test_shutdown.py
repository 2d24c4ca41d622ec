"""SIGTERM shuts an HTTP server down gracefully: calls answered, pool containers gone, audit closed.

0.1 died on SIGTERM (what systemd, ``docker stop`` and Kubernetes send) with its warm-pool
containers still running and no ``server_stop`` record. Needs Docker (the warm pool); the server
binds 127.0.0.1 and fetches only from a loopback fixture named in ``allow_hosts``. Every container
labelled for the server is removed in ``finally``, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import docker
import httpx2
import pytest

from secure_mcp.sandbox.flags import LABEL_INSTANCE
from tests.fetch.helpers import FixtureServer
from tests.http.servers import WIDE, Served, free_port, sdk_client, serve_command, server_env, stop
from tests.support import REQUIRE_DOCKER, SANDBOX_IMAGE, docker_problem

pytestmark = [pytest.mark.anyio, pytest.mark.process]
SLOW_ANSWER_S = 1.5
EXIT_WITHIN_S = 8.0  # drain + pool removal on a shared, loaded machine; 0.1 never removed them at all


@pytest.fixture(scope="module")
def docker_ready() -> None:
    problem = docker_problem()
    if problem is not None:
        if REQUIRE_DOCKER:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)


def containers(instance: str) -> list[str]:
    client = docker.from_env(timeout=10)
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": f"{LABEL_INSTANCE}={instance}"})]


def remove_containers(instance: str) -> None:
    client = docker.from_env(timeout=30)
    for container_id in containers(instance):
        client.api.remove_container(container_id, force=True)


def audit_records(folder: Path) -> list[dict[str, object]]:
    path = folder / "audit" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def folder(tmp_path: Path, docker_ready: None) -> Iterator[Path]:
    tmp_path.chmod(0o755)
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace").chmod(0o777)
    yield tmp_path


async def slow_route(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(SLOW_ANSWER_S)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nthe slow answer")
    await writer.drain()


@pytest.mark.docker
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_sigterm_answers_the_call_in_flight_removes_the_pool_and_closes_the_audit_log(
    folder: Path, transport: str
) -> None:
    async with FixtureServer({"/slow": slow_route}) as fixture:
        config = folder / "config.toml"
        config.write_text(
            f'[sandbox]\nwarm_pool = 1\nimage = "{SANDBOX_IMAGE}"\n'
            f'[tools.fetch_url]\nallow_hosts = ["127.0.0.1:{fixture.port}"]\n' + WIDE.table()
        )
        port = free_port()
        with (folder / "server.log").open("wb") as log:
            proc = subprocess.Popen(
                serve_command(config, transport, port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=server_env(),
                cwd=folder,
            )
        instance = ""
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not instance or not containers(instance):  # up, and its warm pool filled
                assert proc.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "no warm-pool container within 60 s"
                await anyio.sleep(0.2)
                starts = [r for r in audit_records(folder) if r.get("event") == "server_start"]
                instance = str(starts[0]["instance"]) if starts else ""
            assert httpx2.get(f"{base}/healthz", timeout=5).status_code == 200
            served = Served(base=base, endpoint=f"{base}/{'sse' if transport == 'sse' else 'mcp'}", folder=folder)
            answers: list[object] = []
            signalled = 0.0
            try:
                async with sdk_client(served, WIDE.secret) as client:  # legacy: holds a stream open, too
                    await client.list_tools()  # cached: the client checks the answer without asking again
                    async with anyio.create_task_group() as group:

                        async def call() -> None:
                            answers.append(
                                await client.call_tool("fetch_url", {"url": fixture.url("/slow"), "format": "raw"})
                            )

                        group.start_soon(call)
                        await anyio.sleep(0.5)  # the call is in flight, waiting on the slow fixture
                        proc.send_signal(signal.SIGTERM)
                        signalled = time.monotonic()
            except* (httpx2.ConnectError, httpx2.RemoteProtocolError):  # the client's teardown, server gone
                pass
            assert answers, "the call in flight got no answer"
            result = answers[0]
            assert not result.is_error, result  # type: ignore[attr-defined]
            assert "the slow answer" in json.dumps(result.structured_content)  # type: ignore[attr-defined]
            while proc.poll() is None:
                assert time.monotonic() - signalled < EXIT_WITHIN_S, "server still running after SIGTERM"
                await anyio.sleep(0.1)
            assert proc.returncode == 0, (folder / "server.log").read_text()
            assert containers(instance) == []  # removed before the process ended
            records = audit_records(folder)
            assert records[-1]["event"] == "server_stop" and records[-1]["instance"] == instance
            verify = subprocess.run(
                [sys.executable, "-m", "secure_mcp", "audit", "verify", "--config", str(config)],
                capture_output=True,
                env=server_env(),
                timeout=60,
                check=False,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
        finally:
            stop(proc)
            if instance:
                remove_containers(instance)


def test_sigterm_on_stdio_ends_like_ctrl_c_with_the_stop_record(tmp_path: Path) -> None:
    """stdio: SIGTERM is handled like SIGINT; once the client closes stdin the log is closed properly."""
    (tmp_path / "workspace").mkdir()
    config = tmp_path / "config.toml"
    config.write_text("[sandbox]\nwarm_pool = 0\n")
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    proc = subprocess.Popen(
        serve_command(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(),
        cwd=tmp_path,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(initialize) + "\n").encode())
        proc.stdin.flush()
        assert b'"result"' in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        proc.stdin.close()  # what an MCP client does when it ends a stdio server
        proc.wait(timeout=30)
        records = audit_records(tmp_path)
        assert records[-1]["event"] == "server_stop", records[-1]
    finally:
        stop(proc)
