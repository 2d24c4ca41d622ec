"""The pipeline: every ``tools/call`` passes the same stages, in the one order decided here.

    audit ─ auth ─ limits ─ sanitize ─ validate ─ confirm ─ sandbox ─ sanitize ─ redact ─ audit
    └─ call_received ─┘ └──────── guard phase ─────────┘  execution   └── output phase ──┘

Guards may only pass a call on or refuse it; the runner alone decides what runs next, renders
what the client sees, and writes the audit records (the call before it runs, the outcome before
it is returned). The runner is the only error boundary: a ``Denied`` becomes
``blocked by <stage>: <message>``; an unexpected exception becomes a refusal by the stage that was
running, with the call id and no exception text; nothing runs unsandboxed as a fallback.

Stage names come from one vocabulary (``secure_mcp.errors.Stage``): the refusal text, the per-stage
times in the audit record and ``Pipeline.order`` use the same words.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import anyio
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from secure_mcp.approvals.desk import ApprovalDesk
from secure_mcp.call import Caller, ToolCall, ValidatedCall
from secure_mcp.config import Config
from secure_mcp.confirm.channel import ConfirmationChannel, InputRequired
from secure_mcp.errors import Denied, SandboxError, Stage, ToolFailure
from secure_mcp.models import Redaction, ToolResult
from secure_mcp.recorder import Recorder, ValueRedactor
from secure_mcp.stages import Guard, PlannedGuard, RunContext
from secure_mcp.stages.confirm import ConfirmGuard
from secure_mcp.stages.limits import LimitsGuard
from secure_mcp.stages.sanitize import SanitizeGuard
from secure_mcp.stages.validate import ValidateGuard
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec

logger = logging.getLogger(__name__)

REFUSAL_META_KEY = "secure-mcp/refusal"

JSONObject = dict[str, object]
"""A tool result as it leaves: ``model_dump(mode="json")``, then redacted."""


class OutputScan(Protocol):
    """The sanitize stage's second half: cleans untrusted output fields, reports findings."""

    def check_output(self, tool: str, fields: dict[str, str]) -> tuple[dict[str, str], list[str]]: ...


class LimitsHooks(Protocol):
    """What the limits stage does beyond its guard: sandbox slots, and free answer rounds."""

    def sandbox_slot(self, principal: str) -> AbstractAsyncContextManager[None]:
        """The principal's hold on one concurrent sandbox, taken around execution."""
        ...

    def asked(self, principal: str, call_id: str) -> None:
        """The call's round ended in a question (2026-07-28): its answer round is already paid for."""
        ...


async def _no_progress(elapsed: float, output_bytes: int) -> None:
    return None


class StageTimer:
    """Milliseconds spent in each stage of one call, for the audit record and the benchmarks.

    Keyed by ``Stage``: time in both halves of sanitize (input and output) adds up under one name.
    """

    __slots__ = ("ms", "_stage", "_since")

    def __init__(self) -> None:
        self.ms: dict[Stage, float] = {}
        self._stage: Stage | None = None
        self._since = time.perf_counter()

    def enter(self, stage: Stage) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.ms[self._stage] = self.ms.get(self._stage, 0.0) + (now - self._since) * 1000
        self._stage, self._since = stage, now

    def rounded(self) -> dict[str, float]:
        self.enter("audit")
        return {name: round(value, 3) for name, value in self.ms.items()}


class _Cursor:
    """Where a call is: the stage the error boundary names in a refusal, and the timer that times it."""

    __slots__ = ("stage", "timer")

    def __init__(self) -> None:
        self.stage: Stage = "audit"
        self.timer = StageTimer()
        self.timer.enter("audit")

    def enter(self, stage: Stage) -> None:
        self.stage = stage
        self.timer.enter(stage)


@dataclass(frozen=True)
class Pipeline:
    """Built once at startup by ``build_pipeline``; immutable afterwards.

    Args:
        checks: the guards before validate (auth, limits, sanitize); they see the raw arguments.
        validate: parses the arguments and lets the tool plan; the only way to a ``ValidatedCall``.
        approvals: the guards after validate (confirm); they see the plan.
        limits: the sandbox slots taken around a sandboxed tool's execution, and the note that a
            call asked (so the round that answers is not charged again).
        sanitize: the output scan of the untrusted result fields.
    """

    checks: tuple[Guard, ...]
    validate: ValidateGuard
    approvals: tuple[PlannedGuard, ...]
    limits: LimitsHooks
    sanitize: OutputScan
    tools: Mapping[str, ToolSpec]
    env: ToolEnv
    recorder: Recorder
    redactor: ValueRedactor

    @property
    def guards(self) -> tuple[Guard | ValidateGuard | PlannedGuard, ...]:
        """Every guard, in the order a call meets them."""
        return (*self.checks, self.validate, *self.approvals)

    @property
    def order(self) -> tuple[Stage, ...]:
        """The stages in the order a call meets them: the call is recorded first and last."""
        return ("audit", *(g.name for g in self.guards), "sandbox", "sanitize", "redact", "audit")

    async def run(
        self,
        tool: str,
        raw_args: Mapping[str, object],
        caller: Caller,
        channel: ConfirmationChannel,
        progress: ProgressReporter | None = None,
    ) -> CallToolResult | InputRequiredResult:
        """Judge and perform one call; never raises (but for cancellation)."""
        state = channel.continuation()
        call_id = state["call_id"] if state is not None else uuid.uuid4().hex
        call = ToolCall(call_id=call_id, tool=tool, raw_args=dict(raw_args), caller=caller, continuation=state)
        spec = self.tools[tool]
        run = RunContext(spec=spec, env=self.env, channel=channel, recorder=self.recorder)
        self.recorder.active_calls += 1
        try:
            return await self._run(call, run, progress or _no_progress)
        finally:
            self.recorder.active_calls -= 1

    async def _run(
        self, call: ToolCall, run: RunContext, progress: ProgressReporter
    ) -> CallToolResult | InputRequiredResult:
        """The error boundary around the three phases; every way out is recorded."""
        at = _Cursor()
        try:
            await self.recorder.call_received(call)
            validated = await self._guard(call, run, at)
            result = await self._execute(validated, run, progress, at)
            return await self._output(validated, run.spec, result, at)
        except InputRequired as needed:
            self.limits.asked(call.caller.principal, call.call_id)
            return needed.result
        except Denied as denied:
            return await self._refuse(call, denied.stage, denied.reason, denied.message)
        except SandboxError as error:
            return await self._refuse(call, "sandbox", error.reason, error.message)
        except ToolFailure as failure:
            return await self._failed(call, failure)
        except Exception:
            stage, call_id = at.stage, call.call_id
            logger.exception("call %s: unexpected error in stage %s", call_id, stage)
            return await self._refuse(
                call, stage, "internal_error", f"internal error in the {stage} stage (call id {call_id})"
            )

    async def _guard(self, call: ToolCall, run: RunContext, at: _Cursor) -> ValidatedCall:
        """Guard phase: each guard passes the call on or raises ``Denied``; nothing has run yet."""
        for check in self.checks:
            at.enter(check.name)
            await check(call, run)
        at.enter(self.validate.name)
        validated = await self.validate(call, run)
        for approval in self.approvals:
            at.enter(approval.name)
            await approval(validated, run)
        return validated

    async def _execute(
        self, call: ValidatedCall, run: RunContext, progress: ProgressReporter, at: _Cursor
    ) -> ToolResult:
        """Execution: the tool's work, holding a sandbox slot when it runs in a container."""
        spec = run.spec
        at.enter("sandbox")
        if spec.execute is None:
            raise Denied("sandbox", "not_available", f"{call.tool} is not available yet")
        self._lend_confirm(call, run)
        if not spec.sandboxed:
            return await spec.execute(call.args, call.plan, self.env, progress)
        async with self.limits.sandbox_slot(call.caller.principal):
            return await spec.execute(call.args, call.plan, self.env, progress)

    async def _output(
        self, call: ValidatedCall, spec: ToolSpec, result: ToolResult, at: _Cursor
    ) -> CallToolResult:
        """Output phase: scan and clean the untrusted fields, redact everything, record, render."""
        at.enter("sanitize")
        data: JSONObject = result.model_dump(mode="json")
        fields = {name: value for name in spec.output_fields if isinstance(value := data.get(name), str)}
        cleaned, output_warnings = self.sanitize.check_output(call.tool, fields)
        data.update(cleaned)
        data["warnings"] = [*call.warnings, *result.warnings, *output_warnings]

        at.enter("redact")
        redacted, counts = self.redactor.redact_value(data)
        if not isinstance(redacted, dict):
            raise TypeError("the redactor changed the result's shape")
        masked = [Redaction(kind=kind, count=n) for kind, n in sorted(counts.items()) if n]
        redacted["redactions"] = [r.model_dump() for r in masked]

        at.enter("audit")
        text = json.dumps(redacted, ensure_ascii=False)
        summary = self._summary(redacted, text, at.timer.ms.get("sandbox", 0.0))
        await self.recorder.executed(call, {**call.plan.audit, **summary, "stage_ms": at.timer.rounded()})
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=redacted)

    def _lend_confirm(self, call: ValidatedCall, run: RunContext) -> None:
        """Give the tool a way to ask after its work (the effects question), through the confirm stage."""
        call.plan.call_id = call.call_id
        for approval in self.approvals:
            if isinstance(approval, ConfirmGuard):

                async def ask_after(question: str, digest: str, guard: ConfirmGuard = approval) -> None:
                    await guard.ask(call, run, question, digest)

                call.plan.ask_after = ask_after

    @staticmethod
    def _summary(result: Mapping[str, object], text: str, duration_ms: float) -> JSONObject:
        return {
            "duration_ms": round(duration_ms, 3),
            "exit_code": result.get("exit_code"),
            "timed_out": result.get("timed_out"),
            "output_bytes": len(text.encode()),
            "output_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "redactions": result.get("redactions", []),
            "warnings": result.get("warnings", []),
            "is_error": False,
        }

    def _redact_text(self, text: str) -> str:
        """``text`` redacted; withheld whole when the redactor fails (a refusal must still render)."""
        try:
            redacted, _ = self.redactor.redact_value(text)
        except Exception as exc:
            logger.error("the redactor failed on a message (%s); the message is withheld", type(exc).__name__)
            return "[message withheld: it could not be redacted]"
        return redacted if isinstance(redacted, str) else "[REDACTED:unrenderable]"

    async def _refuse(self, call: ToolCall, stage: Stage, reason: str, message: str) -> CallToolResult:
        safe = self._redact_text(message)
        with anyio.CancelScope(shield=True):
            try:
                await self.recorder.refused(call, stage, reason, safe)
            except Denied:
                # The refusal stands either way; the audit failure is already logged on stderr.
                pass
        return CallToolResult(
            content=[TextContent(type="text", text=f"blocked by {stage}: {safe}")],
            is_error=True,
            _meta={REFUSAL_META_KEY: {"stage": stage, "reason": reason, "call_id": call.call_id}},
        )

    async def _failed(self, call: ToolCall, failure: ToolFailure) -> CallToolResult:
        safe = self._redact_text(failure.message)
        try:
            await self.recorder.executed(
                call, {"is_error": True, "reason": failure.reason, "message": safe, "duration_ms": None}
            )
        except Denied as denied:
            return await self._refuse(call, "audit", denied.reason, denied.message)
        return CallToolResult(content=[TextContent(type="text", text=f"{call.tool} failed: {safe}")], is_error=True)


def build_pipeline(
    config: Config,
    tools: Mapping[str, ToolSpec],
    env: ToolEnv,
    recorder: Recorder,
    redactor: ValueRedactor,
    limits: LimitsGuard | None = None,
    desk: ApprovalDesk | None = None,
) -> Pipeline:
    """The only place the order of the guards is decided: auth first, confirm last.

    Config can tune every stage but cannot remove one: there is no key that skips auth or audit.
    """
    from secure_mcp.stages.auth import AuthGuard
    from secure_mcp.stages.confirm import ConfirmGuard

    limits = limits or LimitsGuard(config.limits)
    sanitize = SanitizeGuard(config.sanitize, tuple(config.tools.fetch_url.allowed_domains))
    return Pipeline(
        checks=(AuthGuard(), limits, sanitize),
        validate=ValidateGuard(),
        approvals=(ConfirmGuard(config.confirmation, config.tools, desk),),
        limits=limits,
        sanitize=sanitize,
        tools=dict(tools),
        env=env,
        recorder=recorder,
        redactor=redactor,
    )
