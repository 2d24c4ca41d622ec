"""confirm: a human yes, through MCP elicitation, before anything that needs one.

The question shows exactly what will run (redacted of secrets) and why it needs a yes. Only an
accept carrying ``approve: true`` goes on; every other outcome is a refusal with its own reason. An
accept proves that the *client* said yes, not that a person read the prompt: keep programs that
must never run in ``deny``, not ``confirm``.
"""

from __future__ import annotations

import time
from typing import ClassVar

from secure_mcp.call import ToolCall
from secure_mcp.config import ConfirmationConfig, ToolsConfig
from secure_mcp.confirm.approval import Answer
from secure_mcp.confirm.channel import question_digest
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext

MAX_QUESTION_CHARS = 8000

_REFUSALS: dict[str, tuple[str, str]] = {
    "decline": ("declined", "the user declined"),
    "cancel": ("cancelled", "the user dismissed the confirmation without answering"),
    "timeout": ("timeout", "no answer within {timeout} s"),
    "malformed": ("malformed_answer", "the client's answer did not match the confirmation form"),
    "client_error": ("client_error", "the client failed to show the confirmation"),
}


def build_question(call: ToolCall, run: RunContext, reasons: list[str]) -> str:
    """The text the person sees: tool, principal, why, and the exact action."""
    assert call.plan is not None  # noqa: S101 - validate always sets the plan before confirm runs
    why = "\n".join(f"- {reason}" for reason in dict.fromkeys(reasons))
    text = (
        f"secure-mcp: allow this {call.tool} call?\n"
        f"requested by: {call.caller.principal} (over {call.caller.transport})\n"
        f"why it needs a yes:\n{why}\n"
        f"--- exact action ---\n{call.plan.prompt}"
    )
    text = run.env.redact_text(text)
    if len(text) > MAX_QUESTION_CHARS:
        text = text[:MAX_QUESTION_CHARS] + "\n[... shortened; the full action is in the audit log]"
    return text


class ConfirmGuard:
    """Asks when validate or sanitize said a yes is needed; single-use approvals."""

    name: ClassVar[Stage] = "confirm"

    def __init__(self, config: ConfirmationConfig, tools: ToolsConfig | None = None) -> None:
        self._config = config
        self._tools = tools or ToolsConfig()
        self._used: dict[str, float] = {}

    def when_unsupported(self, tool: str) -> str:
        """``[tools.NAME] when_unsupported`` when set, else ``[confirmation] when_unsupported``."""
        settings = self._tools.get(tool)
        override = settings.when_unsupported if settings is not None else None
        return override or self._config.when_unsupported

    def _consume(self, call_id: str) -> None:
        """An approval runs its action once; a replayed retry of the same call is refused."""
        now = time.monotonic()
        horizon = now - 2 * self._config.timeout_s - 600
        for stale in [k for k, t in self._used.items() if t < horizon]:
            del self._used[stale]
        if call_id in self._used:
            raise Denied("confirm", "approval_reused", "this approval was already used for one call")
        self._used[call_id] = now

    async def __call__(self, call: ToolCall, run: RunContext) -> None:
        reasons = call.confirm_reasons
        if not reasons:
            return
        await self.ask(call, run, build_question(call, run, reasons), None, reasons)

    async def ask(
        self,
        call: ToolCall,
        run: RunContext,
        question: str,
        digest: str | None,
        reasons: list[str] | None = None,
    ) -> None:
        """Ask one question for this call; return on a yes, raise ``Denied`` otherwise.

        Used before the run (the program question) and after it (the effects question, whose
        ``digest`` is the change set's: the text shows it, so a yes cannot be moved to other
        effects). In the 2026-07-28 era a question asked and answered yes in an earlier round of
        the same call is remembered in the sealed request state and not asked again.
        """
        channel = run.channel
        needs = "; ".join(reasons) if reasons else "the command's changes to the workspace"
        if not channel.can_ask:
            if self.when_unsupported(call.tool) == "allow":
                call.warnings.append("ran without confirmation: the client cannot ask (when_unsupported=allow)")
                await run.recorder.confirmation_answered(call, Answer("accept", approved=True), "not asked")
                return
            raise Denied(
                "confirm",
                "unsupported_client",
                "this client cannot ask for confirmation; use a client that supports MCP elicitation, "
                "move the program to 'allow' in config.toml if it is safe, or set "
                '[confirmation] when_unsupported = "allow" (needs: ' + needs + ")",
            )
        if digest is not None:
            question = run.env.redact_text(question)
            if len(question) > MAX_QUESTION_CHARS:
                question = question[:MAX_QUESTION_CHARS] + "\n[... shortened; the full change set is in the audit log]"
        shown = question_digest(question)
        state = call.continuation
        if state is not None and shown in state.get("approved", ()):
            return  # answered yes in an earlier round of this same call (sealed state)
        if state is None or state.get("q") != shown:
            await run.recorder.confirmation_asked(call, question)
        answer = await channel.ask(call.call_id, question, float(self._config.timeout_s))
        await run.recorder.confirmation_answered(call, answer, None)
        if answer.outcome == "accept" and answer.approved:
            self._consume(f"{call.call_id}:{shown}")
            return
        if answer.outcome == "accept":
            raise Denied("confirm", "not_approved", "the user answered no")
        reason, message = _REFUSALS[answer.outcome]
        raise Denied("confirm", reason, message.format(timeout=self._config.timeout_s))
