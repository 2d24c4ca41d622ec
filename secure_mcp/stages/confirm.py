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


MIN_ACTION_CHARS = 1000


def build_question(call: ToolCall, run: RunContext, reasons: list[str]) -> str:
    """The text the person sees: tool, principal, why, the plan's summary, and the exact action.

    Everything up to the action (the reasons and the plan's ``summary``, e.g. run_command's
    per-program verdicts) is never cut; only the action is shortened, to its head and tail with
    the number of characters left out, so padding cannot push what matters out of view.
    """
    assert call.plan is not None  # noqa: S101 - validate always sets the plan before confirm runs
    why = "\n".join(f"- {reason}" for reason in dict.fromkeys(reasons))
    summary = f"{call.plan.summary}\n" if call.plan.summary else ""
    head = run.env.redact_text(
        f"secure-mcp: allow this {call.tool} call?\n"
        f"requested by: {call.caller.principal} (over {call.caller.transport})\n"
        f"why it needs a yes:\n{why}\n{summary}"
        "--- exact action ---\n"
    )
    action = run.env.redact_text(call.plan.prompt)
    return head + shorten_middle(action, max(MIN_ACTION_CHARS, MAX_QUESTION_CHARS - len(head)))


def shorten_middle(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit``, else its head and tail around a count of what was left out."""
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 2)
    left = len(text) - keep
    note = f"[... {left} characters left out; the full action is in the audit log ...]"
    return f"{text[: keep // 2]}\n{note}\n{text[len(text) - (keep - keep // 2) :]}"


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
        channel = run.channel
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
                '[confirmation] when_unsupported = "allow" (needs: ' + "; ".join(reasons) + ")",
            )
        question = build_question(call, run, reasons)
        if call.continuation is None:
            await run.recorder.confirmation_asked(call, question)
        answer = await channel.ask(call.call_id, question, float(self._config.timeout_s))
        await run.recorder.confirmation_answered(call, answer, None)
        if answer.outcome == "accept" and answer.approved:
            self._consume(call.call_id)
            return
        if answer.outcome == "accept":
            raise Denied("confirm", "not_approved", "the user answered no")
        reason, message = _REFUSALS[answer.outcome]
        raise Denied("confirm", reason, message.format(timeout=self._config.timeout_s))
