"""The pipeline: every ``tools/call`` passes the same stages, in the one order decided here.

    auth ─ limits ─ sanitize ─ validate ─ confirm ─ execute (sandbox) ─ redact ─ audit

Guards may only pass a call on or refuse it; the runner alone decides what runs next, renders
what the client sees, and writes the audit records (the call before it runs, the outcome before
it is returned). The runner is the only error boundary: a ``Denied`` becomes
``blocked by <stage>: <message>``; an unexpected exception becomes a refusal by the stage that was
running, with the call id and no exception text; nothing runs unsandboxed as a fallback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from secure_mcp.call import ToolCall
from secure_mcp.confirm.channel import ConfirmationChannel, InputRequired
from secure_mcp.errors import Denied, SandboxError, Stage, ToolFailure
from secure_mcp.recorder import Recorder
from secure_mcp.stages import Guard, RunContext
from secure_mcp.stages.limits import LimitsGuard
from secure_mcp.stages.sanitize import SanitizeGuard
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec

logger = logging.getLogger(__name__)

REFUSAL_META_KEY = "secure-mcp/refusal"


async def _no_progress(elapsed: float, output_bytes: int) -> None:
    return None


class StageTimer:
    """Milliseconds spent in each stage of one call, for the audit record and the benchmarks."""

    __slots__ = ("ms", "_stage", "_since")

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._stage: str | None = None
        self._since = time.perf_counter()

    def enter(self, stage: str) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.ms[self._stage] = self.ms.get(self._stage, 0.0) + (now - self._since) * 1000
        self._stage, self._since = stage, now

    def rounded(self) -> dict[str, float]:
        self.enter("audit")
        return {name: round(value, 3) for name, value in self.ms.items()}


@dataclass(frozen=True)
class Pipeline:
    """Built once at startup by ``build_pipeline``; immutable afterwards."""

    guards: tuple[Guard, ...]
    limits: LimitsGuard
    sanitize: SanitizeGuard
    tools: Mapping[str, ToolSpec]
    env: ToolEnv
    recorder: Recorder
    redactor: Any

    @property
    def order(self) -> tuple[str, ...]:
        """The stage names in the order a call meets them."""
        return (*(g.name for g in self.guards), "sandbox", "redact", "audit")

    async def run(
        self,
        tool: str,
        raw_args: dict[str, Any],
        caller: Any,
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
            return await self._run(call, run, spec, progress)
        finally:
            self.recorder.active_calls -= 1

    async def _run(
        self, call: ToolCall, run: RunContext, spec: ToolSpec, progress: ProgressReporter | None
    ) -> CallToolResult | InputRequiredResult:
        tool, caller, call_id = call.tool, call.caller, call.call_id
        stage: Stage = "audit"
        timer = StageTimer()
        try:
            timer.enter("audit")
            await self.recorder.call_received(call)
            for guard in self.guards:
                stage = guard.name
                timer.enter(stage)
                await guard(call, run)
            stage = "sandbox"
            timer.enter("execute")
            if spec.execute is None:
                raise Denied("sandbox", "not_available", f"{tool} is not available yet")
            assert call.plan is not None  # noqa: S101 - validate sets the plan
            self._lend_confirm(call, run)
            if spec.sandboxed:
                async with self.limits.sandbox_slot(caller.principal):
                    model = await spec.execute(call.args, call.plan, self.env, progress or _no_progress)
            else:
                model = await spec.execute(call.args, call.plan, self.env, progress or _no_progress)
            stage = "sanitize"
            timer.enter("output_sanitize")
            data = model.model_dump(mode="json")
            fields = {name: data[name] for name in spec.output_fields if isinstance(data.get(name), str)}
            cleaned, output_warnings = self.sanitize.check_output(tool, fields)
            data.update(cleaned)
            if "warnings" in data:
                data["warnings"] = [*call.warnings, *data["warnings"], *output_warnings]
            stage = "redact"
            timer.enter("redact")
            redacted, counts = self.redactor.redact_value(data)
            assert isinstance(redacted, dict)  # noqa: S101 - redact_value keeps the shape
            if "redactions" in redacted:
                redacted["redactions"] = [{"kind": k, "count": n} for k, n in sorted(counts.items()) if n]
            stage = "audit"
            timer.enter("audit")
            text = json.dumps(redacted, ensure_ascii=False)
            summary = self._summary(redacted, text, timer.ms.get("execute", 0.0))
            await self.recorder.executed(call, {**call.plan.audit, **summary, "stage_ms": timer.rounded()})
            return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=redacted)
        except InputRequired as needed:
            return needed.result
        except Denied as denied:
            return await self._refuse(call, denied.stage, denied.reason, denied.message)
        except SandboxError as error:
            return await self._refuse(call, "sandbox", error.reason, error.message)
        except ToolFailure as failure:
            return await self._failed(call, failure)
        except Exception:
            logger.exception("call %s: unexpected error in stage %s", call_id, stage)
            return await self._refuse(
                call, stage, "internal_error", f"internal error in the {stage} stage (call id {call_id})"
            )

    def _lend_confirm(self, call: ToolCall, run: RunContext) -> None:
        """Give the tool a way to ask after its work (the effects question), through the confirm stage."""
        assert call.plan is not None  # noqa: S101 - only called once validate set the plan
        call.plan.call_id = call.call_id
        for guard in self.guards:
            ask = getattr(guard, "ask", None)
            if guard.name == "confirm" and ask is not None:

                async def ask_after(question: str, digest: str, ask: Any = ask) -> None:
                    await ask(call, run, question, digest)

                call.plan.ask_after = ask_after

    @staticmethod
    def _summary(result: dict[str, Any], text: str, duration_ms: float) -> dict[str, Any]:
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
        redacted, _ = self.redactor.redact_value(text)
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
    config: Any,
    tools: Mapping[str, ToolSpec],
    env: ToolEnv,
    recorder: Recorder,
    redactor: Any,
    limits: LimitsGuard | None = None,
) -> Pipeline:
    """The only place the order of the guards is decided: auth first, confirm last.

    Config can tune every stage but cannot remove one: there is no key that skips auth or audit.
    """
    from secure_mcp.stages.auth import AuthGuard
    from secure_mcp.stages.confirm import ConfirmGuard
    from secure_mcp.stages.validate import ValidateGuard

    limits = limits or LimitsGuard(config.limits)
    sanitize = SanitizeGuard(config.sanitize, tuple(config.tools.fetch_url.allowed_domains))
    guards: tuple[Guard, ...] = (
        AuthGuard(),
        limits,
        sanitize,
        ValidateGuard(),
        ConfirmGuard(config.confirmation, config.tools),
    )
    return Pipeline(
        guards=guards,
        limits=limits,
        sanitize=sanitize,
        tools=dict(tools),
        env=env,
        recorder=recorder,
        redactor=redactor,
    )
