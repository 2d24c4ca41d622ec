"""Helpers shared by tests: a probe tool whose effect is a canary file, and server factories."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.types import ElicitResult, ToolAnnotations

from secure_mcp.call import Plan
from secure_mcp.config import Config, parse_config
from secure_mcp.fetch.resolver import Resolver
from secure_mcp.models import ArgsModel, ToolResult
from secure_mcp.runtime import Runtime, open_runtime
from secure_mcp.sandbox import Sandbox
from secure_mcp.stages.limits import LimitsGuard
from secure_mcp.testing import MemoryAuditSink
from secure_mcp.toolkit import ToolEnv, ToolSpec


class ProbeArgs(ArgsModel):
    name: str
    note: str = ""


class ProbeResult(ToolResult):
    created: str
    echo: str


def probe_spec(canary_dir: Path, *, confirm: bool = False, available: bool = True) -> ToolSpec:
    """A tool whose only effect is creating ``canary_dir/<name>``: proof that it ran."""

    async def prepare(args: ProbeArgs, env: ToolEnv) -> Plan:
        if args.name == "crash":
            raise RuntimeError("secret internal detail /etc/shadow")
        reasons = ["probe asks"] if confirm else []
        return Plan(prompt=f"create canary {args.name}", confirm_reasons=reasons)

    async def execute(args: ProbeArgs, plan: Plan, env: ToolEnv, progress: Any) -> ProbeResult:
        (canary_dir / args.name).write_text("ran")
        return ProbeResult(created=args.name, echo=args.note)

    return ToolSpec(
        name="probe",
        title="probe",
        description="test probe",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
        args_model=ProbeArgs,
        result_model=ProbeResult,
        prepare=prepare,
        execute=execute if available else None,
        output_fields=("echo",),
    )


class FakeClock:
    """A monotonic clock that moves only when the test says so: time-based rules without real waits."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_config(tmp_path: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    data: dict[str, Any] = {"workspace": {"root": "workspace"}, "audit": {"path": "audit/audit.jsonl"}}
    for key, value in (overrides or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data, tmp_path)


@asynccontextmanager
async def runtime(
    config: Config,
    *,
    tools: Mapping[str, ToolSpec] | None = None,
    sink: MemoryAuditSink | None = None,
    sandbox: Sandbox | None = None,
    environ: Mapping[str, str] | None = None,
    limits: LimitsGuard | None = None,
    fetch_resolver: Resolver | None = None,
) -> AsyncIterator[Runtime]:
    """An in-process server with an in-memory audit sink; no Docker unless a sandbox is given."""
    async with open_runtime(
        config,
        transport="memory",
        audit_sink=sink or MemoryAuditSink(),
        sandbox=sandbox,
        environ=environ or {},
        tools=tools,
        limits=limits,
        fetch_resolver=fetch_resolver,
    ) as rt:
        yield rt


def reply(action: str, content: dict[str, Any] | None = None, seen: list[str] | None = None) -> Callable[..., Any]:
    """An elicitation callback answering every question the same way, recording the questions."""

    async def callback(context: Any, params: Any) -> ElicitResult:
        if seen is not None:
            seen.append(params.message)
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    return callback


SANDBOX_IMAGE = os.environ.get("SECURE_MCP_SANDBOX_IMAGE", "secure-mcp-sandbox:latest")
REQUIRE_DOCKER = os.environ.get("SECURE_MCP_REQUIRE_DOCKER") == "1"


def docker_problem(image: str = SANDBOX_IMAGE) -> str | None:
    """Why Docker tests cannot run here (engine or image missing), or None when they can."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(image)
    except Exception as exc:
        return f"Docker or the image {image} is unavailable ({type(exc).__name__}); run `secure-mcp sandbox build`"
    return None


def require_docker() -> None:
    """Skip without an engine and image; fail instead when CI set SECURE_MCP_REQUIRE_DOCKER=1."""
    import pytest

    problem = docker_problem()
    if problem is not None:
        if REQUIRE_DOCKER:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)


def docker_config(tmp_path: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """A config on the test image (warm pool 1) with a workspace the sandbox user can write."""
    require_docker()
    tmp_path.chmod(0o755)
    values: dict[str, Any] = {"sandbox": {"warm_pool": 1, "image": SANDBOX_IMAGE}}
    for key, value in (overrides or {}).items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    cfg = make_config(tmp_path, values)
    cfg.workspace_root.mkdir(parents=True, exist_ok=True)
    cfg.workspace_root.chmod(0o777)
    return cfg


@asynccontextmanager
async def started_sandbox(config: Config, prefix: str) -> AsyncIterator[Sandbox]:
    """A started sandbox for ``config``, closed (its containers removed) however the test ends."""
    import uuid

    from secure_mcp.sandbox import SandboxSettings

    box = Sandbox(
        SandboxSettings.from_config(config.sandbox),
        config.workspace_root,
        instance_id=f"{prefix}-{uuid.uuid4().hex[:10]}",
    )
    await box.start()
    try:
        yield box
    finally:
        await box.close()
