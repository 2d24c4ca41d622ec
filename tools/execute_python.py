"""execute_python: Python code in a fresh, network-less, read-only container."""

from __future__ import annotations

from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import Field

from secure_mcp.call import Plan
from secure_mcp.effects import run_with_effects
from secure_mcp.models import ArgsModel, ProcessResult
from secure_mcp.sandbox import SandboxRequest
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec

from ._sandboxed import bounded_timeout, run_in_sandbox

PROMPT_LINES = 40


class ExecutePythonArgs(ArgsModel):
    code: Annotated[str, Field(min_length=1, max_length=1_000_000, description="Python 3 source, run with python3")]
    timeout_s: Annotated[int | None, Field(ge=1, le=3600, description="Seconds before the container is killed")] = None
    dry_run: Annotated[
        bool, Field(description="Run, then report the change set and its verdict without applying anything")
    ] = False


def code_preview(code: str) -> str:
    """The code's first lines and its size, as the confirmation shows it."""
    lines = code.splitlines()
    head = "\n".join(lines[:PROMPT_LINES])
    more = f"\n[... {len(lines) - PROMPT_LINES} more lines]" if len(lines) > PROMPT_LINES else ""
    return f"python3 ({len(code)} characters, {len(lines)} lines):\n{head}{more}"


async def prepare(args: ExecutePythonArgs, env: ToolEnv) -> Plan:
    settings = env.config.tools.execute_python
    timeout = bounded_timeout(args.timeout_s, env)
    prompt = f"{code_preview(args.code)}\n(workspace {settings.workspace}, timeout {timeout} s, no network)"
    reasons = ["[tools.execute_python] confirm = true"] if settings.confirm else []
    return Plan(prompt=prompt, confirm_reasons=reasons, data=timeout, audit={"code_chars": len(args.code)})


async def execute(args: ExecutePythonArgs, plan: Plan, env: ToolEnv, progress: ProgressReporter) -> ProcessResult:
    workspace_rw = env.config.tools.execute_python.workspace == "rw"
    request = SandboxRequest(
        kind="python",
        source=args.code,
        workspace_rw=workspace_rw,
        timeout_s=plan.data,
        max_output_bytes=env.config.sandbox.max_output_bytes,
    )
    if workspace_rw:
        return await run_with_effects(request, env, progress, plan, dry_run=args.dry_run)
    result = await run_in_sandbox(request, env, progress)
    if args.dry_run:
        result.effects = {"verdict": "allow", "refused": [], "needs_yes": [], "stripped": [], "applied": False}
    return result


SPEC = ToolSpec(
    name="execute_python",
    title="Execute Python in the sandbox",
    description=(
        "Run Python 3 code in a fresh Docker container: no network, read-only root filesystem, "
        "unprivileged, with limits on memory, CPU, processes and output. The workspace is at /workspace "
        "(read-only unless configured; .git, .ssh, .env and .envrc are hidden; read-write runs go through a "
        "copy-on-write layer whose changes are judged like run_command's). A non-zero exit or a timeout is a "
        "result, not an error."
    ),
    annotations=ToolAnnotations(
        title="Execute Python in the sandbox",
        read_only_hint=False,
        destructive_hint=False,
        idempotent_hint=False,
        open_world_hint=False,
    ),
    args_model=ExecutePythonArgs,
    result_model=ProcessResult,
    prepare=prepare,
    execute=execute,
    output_fields=("stdout", "stderr"),
    sandboxed=True,
)
