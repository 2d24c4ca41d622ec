"""confirm: a human yes before anything that needs one, from whichever channel answers first.

The question shows exactly what will run (redacted of secrets) and why it needs a yes. It becomes
one pending decision (``secure_mcp.approvals``) that every channel resolves: form elicitation in
the client, the approval console (also reached through URL-mode elicitation), and
``secure-mcp approvals``. ``[confirmation] channel`` chooses ``elicitation``, ``console`` or
``both``; the first answer wins and the other channel is cancelled. Only an approval goes on;
decline, cancel, a malformed answer and no answer within ``timeout_s`` are refusals, each with its
own reason. An approval is bound to {principal, tool, arguments, an extra digest (the change set),
policy version, expiry} and used once.

A form accept proves that the *client* said yes, not that a person read the prompt; a console or
CLI approval comes from a signed-in approver, never from the agent's credentials.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

import anyio
from anyio.abc import TaskGroup

from secure_mcp.approvals.desk import ApprovalDesk, binding_digest
from secure_mcp.approvals.store import Decision, PendingDecision
from secure_mcp.call import ValidatedCall
from secure_mcp.config import ConfirmationConfig, ToolsConfig
from secure_mcp.confirm.approval import Answer, Outcome
from secure_mcp.confirm.channel import ConfirmationChannel, InputRequired, question_digest
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext

MAX_QUESTION_CHARS = 8000
PROGRESS_EVERY_S = 2.0

_REFUSALS: dict[str, tuple[str, str]] = {
    "decline": ("declined", "the user declined"),
    "cancel": ("cancelled", "the user dismissed the confirmation without answering"),
    "timeout": ("timeout", "no answer within {timeout} s"),
    "malformed": ("malformed_answer", "the client's answer did not match the confirmation form"),
    "client_error": ("client_error", "the client failed to show the confirmation"),
}


MIN_ACTION_CHARS = 1000


def build_question(call: ValidatedCall, run: RunContext, reasons: list[str]) -> str:
    """The text the person sees: tool, principal, why, the plan's summary, and the exact action.

    Everything up to the action (the reasons and the plan's ``summary``, e.g. run_command's
    per-program verdicts) is never cut; only the action is shortened, to its head and tail with
    the number of characters left out, so padding cannot push what matters out of view.
    """
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


def _config_hints(call: ValidatedCall, reasons: list[str]) -> list[str]:
    """The exact config line that lets each kind of reason through without asking."""
    plan_reasons = set(call.plan.confirm_reasons) if call.plan is not None else set()
    hints: list[str] = []
    if any(r not in plan_reasons for r in reasons):
        hints.append(
            f'[sanitize] input = "warn" (or [sanitize.tools.{call.tool}] input, this tool only) '
            "for the prompt-injection finding"
        )
    if plan_reasons:
        if call.tool == "run_command":
            hints.append("the [tools.run_command] line given with each program above, where one exists")
        elif call.tool == "execute_python":
            hints.append("[tools.execute_python] confirm = false")
        else:
            hints.append(f'[tools.{call.tool}] when_unsupported = "allow" (this tool only)')
    hints.append('[confirmation] when_unsupported = "allow" (every such call, unasked)')
    return hints


class ConfirmGuard:
    """Asks when validate or sanitize said a yes is needed; single-use approvals."""

    name: ClassVar[Stage] = "confirm"

    def __init__(
        self, config: ConfirmationConfig, tools: ToolsConfig | None = None, desk: ApprovalDesk | None = None
    ) -> None:
        self._config = config
        self._tools = tools or ToolsConfig()
        self._desk = desk
        self._used: dict[str, float] = {}

    def when_unsupported(self, tool: str) -> str:
        """``[tools.NAME] when_unsupported`` when set, else ``[confirmation] when_unsupported``."""
        settings = self._tools.get(tool)
        override = settings.when_unsupported if settings is not None else None
        return override or self._config.when_unsupported

    def _consume(self, key: str) -> None:
        """An approval runs its action once; a replayed retry of the same call is refused."""
        now = time.monotonic()
        horizon = now - 2 * self._config.timeout_s - 600
        for stale in [k for k, t in self._used.items() if t < horizon]:
            del self._used[stale]
        if key in self._used:
            raise Denied("confirm", "approval_reused", "this approval was already used for one call")
        self._used[key] = now

    def _console(self) -> ApprovalDesk | None:
        """The desk, when the console is serving and the channel setting lets it answer."""
        if self._desk is None or self._config.channel == "elicitation" or self._desk.console_url is None:
            return None
        return self._desk

    async def __call__(self, call: ValidatedCall, run: RunContext) -> None:
        reasons = call.confirm_reasons
        if not reasons:
            return
        await self.ask(call, run, build_question(call, run, reasons), "", reasons)

    async def ask(
        self, call: ValidatedCall, run: RunContext, question: str, digest: str = "", reasons: list[str] | None = None
    ) -> None:
        """Get a yes for exactly ``question`` (and ``digest``, e.g. of a change set), or raise ``Denied``.

        Other stages (the effects judge) call this for a second question in the same call: each
        question is its own pending decision, bound to its own digest.
        """
        reasons = list(reasons if reasons is not None else call.confirm_reasons)
        if not reasons:
            reasons = ["the command's changes to the workspace need a yes"]
        channel = run.channel
        if digest:
            # a question built after the run (the change set): redacted and bounded like build_question's
            question = run.env.redact_text(question)
            if len(question) > MAX_QUESTION_CHARS:
                question = question[:MAX_QUESTION_CHARS] + "\n[... shortened; the full change set is in the audit log]"
        bare = question_digest(question)
        state = call.continuation
        if state is not None and bare in state.get("approved", ()):
            return  # answered yes in an earlier round of this same call (sealed, bound to its arguments)
        desk = self._console()
        form = channel.can_ask and self._config.channel != "console"
        url_mode = desk is not None and channel.can_open_url and (self._config.channel == "console" or not form)
        if not form and not url_mode and (desk is None or self.when_unsupported(call.tool) == "allow"):
            if self.when_unsupported(call.tool) == "allow":
                call.warnings.append("ran without confirmation: the client cannot ask (when_unsupported=allow)")
                await run.recorder.confirmation_answered(
                    call, Answer("accept", approved=True, channel="not asked"), "not asked"
                )
                return
            raise Denied("confirm", "unsupported_client", self._unsupported(call, reasons))

        pending: PendingDecision | None = None
        fresh = call.continuation is None
        if desk is not None:
            binding = binding_digest(call.caller.principal, call.tool, call.raw_args, digest, desk.policy_version)
            if call.continuation is not None:
                pending = await desk.store.find(call.call_id, binding, hashlib.sha256(question.encode()).hexdigest())
            if pending is None:
                fresh = True
                pending = await desk.open(
                    call_id=call.call_id,
                    tool=call.tool,
                    principal=call.caller.principal,
                    transport=call.caller.transport,
                    question=question,
                    binding=binding,
                    timeout_s=float(self._config.timeout_s),
                )
        if fresh:
            await run.recorder.confirmation_asked(call, question, pending.id if pending is not None else None)

        started = time.time()
        if desk is None or pending is None:
            answer = await channel.ask(call.call_id, question, float(self._config.timeout_s))
        else:
            answer = await self._decide(call, channel, desk, pending, question, form, url_mode)
        waited_ms = round((time.time() - (pending.created if pending is not None else started)) * 1000, 1)
        await run.recorder.confirmation_answered(
            call, answer, None, waited_ms=waited_ms, decision_id=pending.id if pending is not None else None
        )
        if answer.outcome == "accept" and answer.approved:
            if pending is not None and desk is not None:
                if not await desk.store.consume(pending.id):
                    raise Denied("confirm", "approval_reused", "this approval was already used for one call")
            else:
                self._consume(f"{call.call_id}:{bare}")
            channel.remember(bare)
            return
        if answer.outcome == "accept":
            who = "the approver" if answer.channel in ("console", "cli") else "the user"
            raise Denied("confirm", "not_approved", f"{who} answered no")
        reason, message = _REFUSALS[answer.outcome]
        message = message.format(timeout=self._config.timeout_s)
        if answer.outcome == "timeout" and desk is not None and desk.console_url is not None:
            message += f" (the call was waiting in the approval console at {desk.console_url}/)"
            if not form and not url_mode:
                needs = "; ".join(dict.fromkeys(reasons))
                hints = "; or ".join(_config_hints(call, reasons))
                message += (
                    f"; this client cannot ask for confirmation itself; needs a yes: {needs}. "
                    f"To let it through without a person: {hints}"
                )
        raise Denied("confirm", reason, message)

    def _unsupported(self, call: ValidatedCall, reasons: list[str]) -> str:
        """What needs a yes, where a person could have given it, and the config line per case."""
        needs = "; ".join(dict.fromkeys(reasons))
        hints = "; or ".join(_config_hints(call, reasons))
        if self._desk is None or self._desk.console_url is None:
            console = "no approval console is running to decide it instead ([approvals] enabled = true); "
        else:
            console = '[confirmation] channel = "elicitation" keeps the approval console out; '
        return (
            f"this client cannot ask for confirmation; {console}needs a yes: {needs}. Use a client that supports "
            f"MCP elicitation, or to let it through without a person: {hints}"
        )

    async def _decide(
        self,
        call: ValidatedCall,
        channel: ConfirmationChannel,
        desk: ApprovalDesk,
        pending: PendingDecision,
        question: str,
        form: bool,
        url_mode: bool,
    ) -> Answer:
        """Race the client's channel against the console; the first answer is recorded in the store."""
        if pending.decision is not None:  # decided in the console before this retry arrived
            return _from_decision(pending.decision)
        if pending.closed is not None or time.time() > pending.expires:
            return Answer("timeout")
        link = desk.link_for(pending.id) or ""
        remaining = max(0.0, pending.expires - time.time())
        if form:
            shown = f"{question}\n\n(or decide in the approval console: {link})"

            async def via_form() -> Answer | None:
                return await channel.ask(call.call_id, shown, remaining)

            return await self._race(channel, desk, pending, via_form)
        if url_mode:
            message = f"secure-mcp: a {call.tool} call needs your decision in the approval console (call {pending.id})"

            async def via_url() -> Answer | None:
                refused = await channel.ask_url(call.call_id, message, link, pending.id, remaining)
                if refused is None:  # the client opened the page: the answer comes from the console
                    await anyio.sleep_forever()
                return refused

            answer = await self._race(channel, desk, pending, via_url)
            if answer.channel in ("console", "cli"):
                await channel.completed(pending.id)
            return answer
        return await self._race(channel, desk, pending, None)

    async def _race(
        self,
        channel: ConfirmationChannel,
        desk: ApprovalDesk,
        pending: PendingDecision,
        client: Callable[[], Awaitable[Answer | None]] | None,
    ) -> Answer:
        """First of: the client's answer (``client``) or a console/CLI decision; the loser is cancelled."""
        results: list[Answer] = []
        deadline = pending.expires
        link = desk.link_for(pending.id) or ""

        try:
            async with anyio.create_task_group() as group:
                await self._contenders(group, channel, desk, pending, client, results, deadline, link)
        except BaseExceptionGroup as errors:
            # 2026-07-28: the client channel ends this round with the question (InputRequired).
            needed = [e for e in errors.exceptions if isinstance(e, InputRequired)]
            if needed:
                raise needed[0] from None
            raise
        return await self._settle(desk, pending, results[0] if results else Answer("timeout"))

    async def _contenders(
        self,
        group: TaskGroup,
        channel: ConfirmationChannel,
        desk: ApprovalDesk,
        pending: PendingDecision,
        client: Callable[[], Awaitable[Answer | None]] | None,
        results: list[Answer],
        deadline: float,
        link: str,
    ) -> None:
        if client is not None:
            ask = client

            async def from_client() -> None:
                answer = await ask()
                if answer is None or answer.outcome == "client_error":
                    return  # not an answer: keep waiting for the console
                results.append(answer)
                group.cancel_scope.cancel()

            group.start_soon(from_client)

        async def from_console() -> None:
            started = time.time()
            while True:
                left = deadline - time.time()
                if left <= 0:
                    break
                await channel.progress(
                    round(time.time() - started, 1),
                    float(self._config.timeout_s),
                    f"waiting for a decision in the approval console: {link}",
                )
                decided = await desk.store.wait(pending.id, min(PROGRESS_EVERY_S, left))
                if decided is not None and decided.decision is not None:
                    results.append(_from_decision(decided.decision))
                    group.cancel_scope.cancel()
                    return
                current = await desk.store.get(pending.id)
                if current is None or current.closed is not None:
                    break
            results.append(Answer("timeout"))
            group.cancel_scope.cancel()

        group.start_soon(from_console)

    async def _settle(self, desk: ApprovalDesk, pending: PendingDecision, answer: Answer) -> Answer:
        """Record a client answer in the store (first answer wins) and return the winning one."""
        if answer.channel in ("console", "cli"):
            return answer
        if answer.outcome == "timeout":
            await desk.store.close(pending.id, "expired")
            return answer
        # The client answered first: record it in the store, unless the console won the same instant.
        outcome = await desk.store.decide(
            pending.id,
            pending.digest,
            Decision(
                answer.outcome == "accept" and answer.approved,
                f"{pending.principal} (client)",
                "url" if answer.channel == "url" else "elicitation",
                time.time(),
                answer.outcome if answer.outcome != "accept" else "",
            ),
        )
        if isinstance(outcome, PendingDecision):
            return answer
        current = await desk.store.get(pending.id)
        if current is not None and current.decision is not None:
            return _from_decision(current.decision)
        return answer


def _from_decision(decision: Decision) -> Answer:
    """A store decision as an ``Answer``: console and CLI answers are approvals or a plain no."""
    if decision.channel in ("console", "cli"):
        return Answer(
            "accept",
            approved=decision.approved,
            reason=decision.reason or None,
            channel=decision.channel,
            approver=decision.approver,
        )
    # decided through the client in an earlier round of this call (a replayed retry): its own outcome
    outcomes: dict[str, Outcome] = {"decline": "decline", "cancel": "cancel", "malformed": "malformed"}
    outcome = outcomes.get(decision.reason, "accept")
    return Answer(outcome, approved=decision.approved, channel=decision.channel, approver=decision.approver)
