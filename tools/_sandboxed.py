"""What run_command and execute_python share: turning a sandbox result into the tool result."""

from __future__ import annotations

from secure_mcp.errors import SandboxError
from secure_mcp.models import ProcessResult
from secure_mcp.sandbox import SandboxRequest
from secure_mcp.sandbox.verdict import raise_if_stopped
from secure_mcp.toolkit import ProgressReporter, ToolEnv


def bounded_timeout(requested: int | None, env: ToolEnv) -> int:
    """The argument, never above the config's maximum; the config's value when absent."""
    ceiling = env.config.sandbox.timeout_s
    return ceiling if requested is None else min(requested, ceiling)


async def run_in_sandbox(request: SandboxRequest, env: ToolEnv, progress: ProgressReporter) -> ProcessResult:
    """Runs one request; a missing sandbox is a refusal, never a run on the host."""
    if env.sandbox is None:
        raise SandboxError("no_sandbox", "this server was started without a sandbox; nothing runs on the host")
    result = await env.sandbox.run(request, progress)
    raise_if_stopped(result)
    return ProcessResult(
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        timed_out=result.timed_out,
        truncated=result.truncated,
    )
