"""The data a tool call carries through the pipeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as established by the transport (never by the client's own claims).

    Args:
        principal: the token's name on HTTP, the local user on stdio.
        transport: ``stdio``, ``sse``, ``streamable-http`` or ``memory`` (in-process tests).
        session: the transport's session id, when there is one.
        allowed_tools: the tools this principal may call; ``None`` means every enabled tool.
    """

    principal: str
    transport: str
    session: str | None = None
    allowed_tools: frozenset[str] | None = None


@dataclass(slots=True)
class Plan:
    """What validate decided the tool will do, and what confirm must show before it happens.

    ``prompt`` is the exact action (command and verdicts, diff, code, URL); ``confirm_reasons`` is
    empty when no human yes is needed. ``data`` is the tool's own prepared state for execute.
    ``summary`` is shown before ``prompt`` and is never shortened (run_command's per-program
    verdicts: what a yes approves); only ``prompt`` is cut to fit the question.
    """

    prompt: str
    confirm_reasons: list[str] = field(default_factory=list)
    data: Any = None
    audit: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    call_id: str = ""
    ask_after: Callable[[str, str], Awaitable[None]] | None = None
    """Set by the pipeline before execute: asks ``(question, digest)`` after a run (the effects
    question) through the confirm stage; returns on a yes, raises ``Denied`` otherwise."""


@dataclass(slots=True)
class ToolCall:
    """One ``tools/call`` on its way through the stages; stages fill it in, in order.

    Before validate the arguments are only ``raw_args``; validate turns the call into a
    ``ValidatedCall``, the only kind the stages after it (confirm, execution, output) accept.
    """

    call_id: str
    tool: str
    raw_args: dict[str, Any]
    caller: Caller
    warnings: list[str] = field(default_factory=list)
    confirm_reasons: list[str] = field(default_factory=list)
    continuation: dict[str, Any] | None = None


@dataclass(slots=True, kw_only=True)
class ValidatedCall(ToolCall):
    """A call whose arguments parsed into the tool's model and whose tool made a ``Plan``.

    A separate type rather than two optional fields, so that "validated" is checked by the type
    checker: confirm and execution cannot be handed a call without a plan.
    """

    args: BaseModel
    plan: Plan

    @classmethod
    def of(cls, call: ToolCall, args: BaseModel, plan: Plan) -> ValidatedCall:
        """``call`` with its parsed arguments and plan; the lists are shared, not copied."""
        carried = {f.name: getattr(call, f.name) for f in fields(ToolCall)}
        return cls(**carried, args=args, plan=plan)
