"""The limits stage with an injected clock: token bucket, retry hints, isolation, sandbox slots."""

from __future__ import annotations

from typing import Any, cast

import pytest

from secure_mcp.call import Caller, ToolCall
from secure_mcp.config import LimitsConfig
from secure_mcp.errors import Denied
from secure_mcp.stages.context import RunContext
from secure_mcp.stages.limits import LimitsGuard, PrepaidCalls, TokenBuckets

pytestmark = pytest.mark.anyio
UNUSED_RUN = cast(RunContext, None)  # the limits stage judges the call alone


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def call(principal: str = "alice", *, call_id: str = "c1", continuation: dict[str, Any] | None = None) -> ToolCall:
    return ToolCall(
        call_id=call_id,
        tool="write_file",
        raw_args={"path": "a", "content": "x"},
        caller=Caller(principal=principal, transport="streamable-http"),
        continuation=continuation,
    )


async def refusal(guard: LimitsGuard, tool_call: ToolCall) -> Denied | None:
    try:
        await guard(tool_call, UNUSED_RUN)
    except Denied as denied:
        return denied
    return None


# ------------------------------------------------------------------------------------ the bucket


def test_bucket_allows_exactly_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)  # 60/min: one token a second


def test_bucket_refills_at_the_configured_rate_and_never_beyond_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=30, burst=2, clock=clock)
    buckets.take("a")
    buckets.take("a")
    clock.advance(1.0)  # half a token at 0.5/s
    assert buckets.take("a") == pytest.approx(1.0)
    clock.advance(1.0)
    assert buckets.take("a") == 0.0
    clock.advance(3600)  # an hour idle earns burst, not 1800 calls
    assert [buckets.take("a") for _ in range(3)][:2] == [0.0, 0.0]
    assert buckets.take("a") > 0


def test_a_refused_attempt_costs_nothing() -> None:
    """Hammering while limited does not push recovery further away."""
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=1, clock=clock)
    buckets.take("a")
    for _ in range(100):
        buckets.take("a")
    clock.advance(1.0)
    assert buckets.take("a") == 0.0


# ------------------------------------------------------------------------------------ the stage


async def test_stage_trips_at_burst_with_a_retry_hint_and_recovers() -> None:
    clock = FakeClock()
    guard = LimitsGuard(LimitsConfig(calls_per_minute=6, burst=2), clock=clock)
    assert await refusal(guard, call(call_id="1")) is None
    assert await refusal(guard, call(call_id="2")) is None
    denied = await refusal(guard, call(call_id="3"))
    assert denied is not None
    assert (denied.stage, denied.reason) == ("limits", "rate_limited")
    assert str(denied) == "blocked by limits: 'alice' is over 6 calls per minute (burst 2); retry in 10 s"
    clock.advance(4.2)
    later = await refusal(guard, call(call_id="4"))
    assert later is not None and later.message.endswith("retry in 6 s")  # rounded up, never "retry in 0 s"
    clock.advance(5.8)
    assert await refusal(guard, call(call_id="5")) is None


async def test_principals_have_separate_buckets() -> None:
    clock = FakeClock()
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1), clock=clock)
    assert await refusal(guard, call("alice")) is None
    assert await refusal(guard, call("alice")) is not None
    assert await refusal(guard, call("bob")) is None  # alice's flood does not starve bob
    denied = await refusal(guard, call("bob"))
    assert denied is not None and "'bob'" in denied.message


async def test_oversized_arguments_are_refused_before_the_bucket() -> None:
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1, max_argument_bytes=1024), clock=FakeClock())
    big = call()
    big.raw_args["content"] = "x" * 2000
    denied = await refusal(guard, big)
    assert denied is not None and denied.reason == "arguments_too_large"
    assert await refusal(guard, call()) is None  # the refused big call did not spend the only token


# ------------------------------------------------------------------ confirmed retries (2026-07-28)


async def test_a_confirmed_retry_of_a_charged_call_is_free_once() -> None:
    clock = FakeClock()
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1), clock=clock)
    assert await refusal(guard, call(call_id="asked")) is None  # first round: pays
    guard.asked("alice", "asked")  # ... and ends with a question (the pipeline says so)
    retry = call(call_id="asked", continuation={"call_id": "asked"})
    assert await refusal(guard, retry) is None  # the answer round: already paid
    replay = await refusal(guard, call(call_id="asked", continuation={"call_id": "asked"}))
    assert replay is not None and replay.reason == "rate_limited"  # a second replay pays (and cannot)


async def test_a_retry_of_a_call_that_never_asked_pays() -> None:
    """Only a call that ended in a question is remembered: ordinary calls leave nothing behind."""
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1), clock=FakeClock())
    assert await refusal(guard, call(call_id="plain")) is None
    assert len(guard._prepaid) == 0
    retry = await refusal(guard, call(call_id="plain", continuation={"call_id": "plain"}))
    assert retry is not None and retry.reason == "rate_limited"


async def test_a_forged_continuation_does_not_skip_the_bucket() -> None:
    """The call id comes back in client-held state: one this server never charged is charged now."""
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1), clock=FakeClock())
    assert await refusal(guard, call(call_id="real")) is None
    guard.asked("alice", "real")
    forged = await refusal(guard, call(call_id="made-up", continuation={"call_id": "made-up"}))
    assert forged is not None and forged.reason == "rate_limited"


async def test_a_continuation_is_bound_to_the_principal_that_paid() -> None:
    guard = LimitsGuard(LimitsConfig(calls_per_minute=60, burst=1), clock=FakeClock())
    assert await refusal(guard, call("alice", call_id="x")) is None
    guard.asked("alice", "x")
    assert await refusal(guard, call("bob", call_id="y")) is None
    stolen = await refusal(guard, call("bob", call_id="x", continuation={"call_id": "x"}))
    assert stolen is not None and stolen.reason == "rate_limited"


def test_prepaid_entries_expire_and_are_bounded() -> None:
    clock = FakeClock()
    prepaid = PrepaidCalls(ttl_s=60, capacity=3, clock=clock)
    prepaid.remember("a", "old")
    clock.advance(61)
    assert not prepaid.redeem("a", "old")
    for i in range(10):
        prepaid.remember("a", str(i))
    assert len(prepaid) == 3
    assert not prepaid.redeem("a", "0")  # evicted: pays again, the safe direction
    assert prepaid.redeem("a", "9")


# -------------------------------------------------------------------------------- sandbox slots


async def test_sandbox_slots_cap_each_principal_and_are_released() -> None:
    guard = LimitsGuard(LimitsConfig(max_concurrent_sandboxes=2), clock=FakeClock())
    async with guard.sandbox_slot("alice"), guard.sandbox_slot("alice"):
        with pytest.raises(Denied) as third:
            async with guard.sandbox_slot("alice"):
                pass
        async with guard.sandbox_slot("bob"):  # another principal is not affected
            pass
    assert third.value.stage == "limits"
    assert third.value.reason == "too_many_sandboxes"
    assert str(third.value) == (
        "blocked by limits: 'alice' already runs 2 sandboxes (limit 2); retry when one finishes"
    )
    async with guard.sandbox_slot("alice"), guard.sandbox_slot("alice"):
        pass  # both slots came back


async def test_a_slot_is_released_when_execution_fails() -> None:
    guard = LimitsGuard(LimitsConfig(max_concurrent_sandboxes=1), clock=FakeClock())
    with pytest.raises(RuntimeError):
        async with guard.sandbox_slot("alice"):
            raise RuntimeError("sandbox crashed")
    async with guard.sandbox_slot("alice"):
        pass
