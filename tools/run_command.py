"""run_command: a shell command, judged program by program, run in a fresh container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import Field

from secure_mcp.call import Plan
from secure_mcp.command_policy import CommandPolicy, judge_command
from secure_mcp.effects import run_with_effects
from secure_mcp.errors import Denied
from secure_mcp.models import ArgsModel, ProcessResult
from secure_mcp.sandbox import SandboxRequest
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec
from secure_mcp.tools._sandboxed import bounded_timeout
from secure_mcp.workspace_fs import resolve_cwd


class RunCommandArgs(ArgsModel):
    command: Annotated[
        str, Field(min_length=1, max_length=16384, description="Shell command, run by /bin/sh in the sandbox")
    ]
    cwd: Annotated[str, Field(max_length=4096, description="Working directory, relative to the workspace")] = "."
    timeout_s: Annotated[int | None, Field(ge=1, le=3600, description="Seconds before the container is killed")] = None
    dry_run: Annotated[
        bool, Field(description="Run, then report the change set and its verdict without applying anything")
    ] = False


@dataclass(frozen=True, slots=True)
class _Prepared:
    workdir: str
    timeout_s: int


def policy_of(env: ToolEnv) -> CommandPolicy:
    settings = env.config.tools.run_command
    return CommandPolicy(
        allow=frozenset(settings.allow),
        confirm=frozenset(settings.confirm),
        deny=frozenset(settings.deny),
        unknown=settings.unknown,
    )


async def prepare(args: RunCommandArgs, env: ToolEnv) -> Plan:
    decision = judge_command(args.command, policy_of(env))
    programs = [{"program": p.program, "verdict": p.verdict, "why": p.why} for p in decision.programs]
    if decision.decision == "deny":
        raise Denied("validate", "program_denied", f"the command would start a denied program:\n{decision.explain()}")
    workdir = resolve_cwd(env.workspace, args.cwd)
    timeout = bounded_timeout(args.timeout_s, env)
    reasons = [] if decision.decision == "allow" else ["it starts programs that need a yes (listed below)"]
    prompt = f"$ {args.command}\n(in {workdir}, timeout {timeout} s, no network)\nprograms:\n{decision.explain()}"
    return Plan(prompt=prompt, confirm_reasons=reasons, data=_Prepared(workdir, timeout), audit={"programs": programs})


async def execute(args: RunCommandArgs, plan: Plan, env: ToolEnv, progress: ProgressReporter) -> ProcessResult:
    prepared: _Prepared = plan.data
    request = SandboxRequest(
        kind="shell",
        source=args.command,
        workdir=prepared.workdir,
        workspace_rw=True,
        timeout_s=prepared.timeout_s,
        max_output_bytes=env.config.sandbox.max_output_bytes,
    )
    return await run_with_effects(request, env, progress, plan, dry_run=args.dry_run)


SPEC = ToolSpec(
    name="run_command",
    title="Run a shell command in the sandbox",
    description=(
        "Run a shell command with /bin/sh in a fresh, network-less Docker container that sees the workspace "
        "at /workspace through a copy-on-write layer. Every program the command would start is checked "
        "against the policy. After the run, what it changed is judged: new files are applied, deleting or "
        "rewriting existing files needs a human yes, protected paths (.git, .ssh, .env...) are refused; "
        "'changes' lists what was applied. dry_run=true applies nothing. A non-zero exit is a result, not an error."
    ),
    annotations=ToolAnnotations(
        title="Run a shell command in the sandbox",
        read_only_hint=False,
        destructive_hint=True,
        idempotent_hint=False,
        open_world_hint=False,
    ),
    args_model=RunCommandArgs,
    result_model=ProcessResult,
    prepare=prepare,
    execute=execute,
    output_fields=("stdout", "stderr"),
    sandboxed=True,
)
