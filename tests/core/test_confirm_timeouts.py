"""Confirmation timeouts without waiting: a fake clock for the 2026-07-28 retry, a tiny deadline mid-call.

The end-to-end tests (tests/e2e/test_confirmation.py) cover the answers a client gives; the refusal a
timeout becomes is covered by tests/core/test_pipeline.py. Here: each era's channel turns "too late"
into ``Answer("timeout")``, and an answer in time into the answer.
"""

from __future__ import annotations

import json
from typing import Any, cast

import anyio
import pytest
from mcp.server.mcpserver import Context
from mcp.types import ElicitResult

from secure_mcp.confirm.approval import Answer
from secure_mcp.confirm.channel import InputRequired, LegacyChannel, ModernChannel
from tests.support import FakeClock

pytestmark = pytest.mark.anyio
TIMEOUT_S = 120.0


class SilentPerson:
    """A 2025-11-25 context whose person never answers (the elicitation never returns)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def elicit(self, message: str, schema: Any) -> Any:
        self.asked.append(message)
        await anyio.Event().wait()


class RetryContext:
    """What a 2026-07-28 retry carries: the sealed state the server handed out and the answers."""

    def __init__(self, request_state: str | None = None, answer: ElicitResult | None = None, key: str = "") -> None:
        self.request_state = request_state
        self.input_responses = {key: answer} if answer is not None else None


def modern(context: RetryContext, clock: FakeClock) -> ModernChannel:
    return ModernChannel(cast(Context[Any, Any], context), clock=clock)


async def first_round(clock: FakeClock) -> tuple[str, str]:
    """Ask once; return the state the client must send back and the key its answer goes under."""
    with pytest.raises(InputRequired) as needed:
        await modern(RetryContext(), clock).ask("call-1", "allow rm?", TIMEOUT_S)
    result = needed.value.result
    assert result.request_state is not None and result.input_requests is not None
    [key] = result.input_requests
    return result.request_state, key


async def test_legacy_an_unanswered_question_times_out_at_its_deadline() -> None:
    person = SilentPerson()
    channel = LegacyChannel(cast(Context[Any, Any], person))
    with anyio.fail_after(5):  # a safety net only: the channel's own deadline is 10 ms
        answer = await channel.ask("call-1", "allow rm?", 0.01)
    assert answer == Answer("timeout")
    assert person.asked == ["allow rm?"]


async def test_modern_an_answer_arriving_after_the_timeout_is_a_timeout() -> None:
    clock = FakeClock()
    state, key = await first_round(clock)
    assert json.loads(state)["asked_at"] == clock.now
    clock.advance(TIMEOUT_S + 1)
    retry = RetryContext(state, ElicitResult(action="accept", content={"approve": True}), key)
    assert await modern(retry, clock).ask("call-1", "allow rm?", TIMEOUT_S) == Answer("timeout")


async def test_modern_an_answer_in_time_is_the_answer() -> None:
    clock = FakeClock()
    state, key = await first_round(clock)
    clock.advance(TIMEOUT_S - 1)
    retry = RetryContext(state, ElicitResult(action="accept", content={"approve": True}), key)
    assert await modern(retry, clock).ask("call-1", "allow rm?", TIMEOUT_S) == Answer("accept", approved=True)
