"""run_command: a shell command, judged program by program, run in a fresh container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import Field

from secure_mcp.call import Plan
from secure_mcp.command_policy import CommandDecision, CommandPolicy, judge_command
from secure_mcp.effects import run_with_effects
from secure_mcp.errors import Denied
from secure_mcp.models import ArgsModel, ProcessResult
from secure_mcp.sandbox import SandboxRequest
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec
from secure_mcp.workspace_fs import resolve_cwd

from ._sandboxed import bounded_timeout


class RunCommandArgs(ArgsModel):
    command: Annotated[
        str, Field(min_length=1, max_length=16384, description="Shell command, run by bash in the sandbox")
    ]
    cwd: Annotated[str, Field(max_length=4096, description="Working directory, relative to the workspace")] = "."
    timeout_s: Annotated[int | None, Field(ge=1, le=3600, description="Seconds before the container is killed")] = None
    dry_run: Annotated[
        bool, Field(description="Run, then report the change set and its verdict without applying anything")
    ] = False


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What execute needs: where and how long, and ``approved``: the programs the sandbox lets start.

    ``approved`` is the sorted executables of every finding that is not denied (a denied one is
    refused before anything runs), exactly the set the question lists under "may start".
    """

    workdir: str
    timeout_s: int
    approved: tuple[str, ...] = ()


def policy_of(env: ToolEnv) -> CommandPolicy:
    settings = env.config.tools.run_command
    return CommandPolicy(
        allow=frozenset(settings.allow),
        confirm=frozenset(settings.confirm),
        deny=frozenset(settings.deny),
        unknown=settings.unknown,
    )


def verdict_block(decision: CommandDecision, approved: tuple[str, ...]) -> str:
    """The part of the question that is never cut: every verdict, then what a yes lets start."""
    starts = ", ".join(approved) if approved else "nothing (builtins only)"
    return f"programs (verdicts first, never shortened):\n{decision.explain()}\nthe sandbox lets start: {starts}"


async def prepare(args: RunCommandArgs, env: ToolEnv) -> Plan:
    decision = judge_command(args.command, policy_of(env))
    programs = [{"program": p.program, "verdict": p.verdict, "why": p.why} for p in decision.programs]
    if decision.decision == "deny":
        raise Denied("validate", "program_denied", f"the command would start a denied program:\n{decision.explain()}")
    workdir = resolve_cwd(env.workspace, args.cwd)
    timeout = bounded_timeout(args.timeout_s, env)
    approved = decision.approved()
    reasons = [] if decision.decision == "allow" else decision.needs_yes()
    prompt = f"$ {args.command}\n(in {workdir}, timeout {timeout} s, no network, run by bash)"
    return Plan(
        prompt=prompt,
        summary=verdict_block(decision, approved),
        confirm_reasons=reasons,
        data=_Prepared(workdir, timeout, approved),
        audit={"programs": programs, "approved": list(approved)},
    )


def approved_programs(plan: Plan, env: ToolEnv) -> tuple[str, ...]:
    """What the sandbox lets the call start: the executables validate reported for this command
    (denied ones never get here; the rest were allowed or confirmed), plus the programs of
    ``[tools.run_command] allow``, so that programs started indirectly (by make's recipes, a script,
    git) are held to what the user allows everywhere; their options are not re-judged there, their
    effects on the workspace are.
    """
    prepared: _Prepared = plan.data
    allowed = [entry.split()[0] for entry in env.config.tools.run_command.allow if entry.split()]
    return tuple(dict.fromkeys([*prepared.approved, *allowed]))


async def execute(args: RunCommandArgs, plan: Plan, env: ToolEnv, progress: ProgressReporter) -> ProcessResult:
    prepared: _Prepared = plan.data
    request = SandboxRequest(
        kind="shell",
        source=args.command,
        workdir=prepared.workdir,
        workspace_rw=True,
        timeout_s=prepared.timeout_s,
        max_output_bytes=env.config.sandbox.max_output_bytes,
        approved=approved_programs(plan, env),
    )
    return await run_with_effects(request, env, progress, plan, dry_run=args.dry_run)


SPEC = ToolSpec(
    name="run_command",
    title="Run a shell command in the sandbox",
    description=(
        "Run a shell command with bash in a fresh, network-less Docker container that sees the workspace "
        "at /workspace through a copy-on-write layer. Every program the command would start is checked "
        "against the policy (denied programs are refused, others may need a human yes), and the sandbox "
        "stops any program that was not approved when it starts. After the run, what it changed is judged: "
        "new files are applied, deleting or rewriting existing files needs a human yes, protected paths "
        "(.git, .ssh, .env...) are refused; 'changes' lists what was applied. dry_run=true applies nothing. "
        "A non-zero exit is a result, not an error."
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
