"""The data a tool call carries through the pipeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
    """

    prompt: str
    confirm_reasons: list[str] = field(default_factory=list)
    data: Any = None
    audit: dict[str, Any] = field(default_factory=dict)
    call_id: str = ""
    ask_after: Callable[[str, str], Awaitable[None]] | None = None
    """Set by the pipeline before execute: asks ``(question, digest)`` after a run (the effects
    question) through the confirm stage; returns on a yes, raises ``Denied`` otherwise."""


@dataclass(slots=True)
class ToolCall:
    """One ``tools/call`` on its way through the stages; stages fill it in, in order."""

    call_id: str
    tool: str
    raw_args: dict[str, Any]
    caller: Caller
    args: BaseModel | None = None
    plan: Plan | None = None
    warnings: list[str] = field(default_factory=list)
    confirm_reasons: list[str] = field(default_factory=list)
    continuation: dict[str, Any] | None = None
