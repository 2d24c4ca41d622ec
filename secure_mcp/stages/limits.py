"""limits: per-principal call rate, argument size, and concurrent sandboxes.

A token bucket per principal (``calls_per_minute`` refill, ``burst`` capacity) answers "too fast"
with when to retry instead of queueing, so a runaway agent learns to back off. The sandbox cap is
taken around execution only (``sandbox_slot``) and refuses at once rather than waiting, because a
waiting call still holds a client connection and a confirmation.

A confirmed call in the 2026-07-28 era arrives twice (the question, then the retry carrying the
answer). The retry is free only if this server charged that call id, for that principal, recently,
and only once: the call id travels back in client-held request state. The SDK seals that state, but
this stage does not lean on another layer: "it says it is a retry" alone never skips the bucket.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

from secure_mcp.call import ToolCall
from secure_mcp.config import LimitsConfig
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext

Clock = Callable[[], float]
PREPAID_TTL_S = 15 * 60.0
PREPAID_CAPACITY = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per principal; ``take`` returns 0 when allowed, else seconds until a token."""

    def __init__(self, per_minute: int, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, principal: str) -> float:
        now = self._clock()
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate


class PrepaidCalls:
    """Call ids whose first round was charged; each may be redeemed once, by its principal, within a TTL.

    Bounded: past ``capacity`` the oldest entries go, which can only make a retry pay again (the
    safe direction), never make a call free.
    """

    def __init__(self, ttl_s: float = PREPAID_TTL_S, capacity: int = PREPAID_CAPACITY, clock: Clock = time.monotonic):
        self._ttl = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._paid: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._paid)

    def remember(self, principal: str, call_id: str) -> None:
        self._paid[(principal, call_id)] = self._clock()
        self._paid.move_to_end((principal, call_id))
        while len(self._paid) > self._capacity:
            self._paid.popitem(last=False)

    def redeem(self, principal: str, call_id: str) -> bool:
        paid_at = self._paid.pop((principal, call_id), None)
        return paid_at is not None and self._clock() - paid_at <= self._ttl


class LimitsGuard:
    """Rate and size limits before any work; the sandbox slot around execution."""

    name: ClassVar[Stage] = "limits"

    def __init__(self, config: LimitsConfig, clock: Clock = time.monotonic) -> None:
        self._config = config
        self._buckets = TokenBuckets(config.calls_per_minute, config.burst, clock)
        self._running: dict[str, int] = {}
        self._prepaid = PrepaidCalls(clock=clock)

    async def __call__(self, call: ToolCall, run: RunContext) -> None:
        size = len(json.dumps(call.raw_args, ensure_ascii=False, default=str).encode())
        if size > self._config.max_argument_bytes:
            raise Denied(
                "limits",
                "arguments_too_large",
                f"arguments are {size} bytes; the limit is {self._config.max_argument_bytes}",
            )
        principal = call.caller.principal
        if call.continuation is not None and self._prepaid.redeem(principal, call.call_id):
            return  # the confirmed retry of a call whose first round this server charged
        wait = self._buckets.take(principal)
        if wait > 0:
            raise Denied("limits", "rate_limited", self.rate_message(principal, wait))

    def asked(self, principal: str, call_id: str) -> None:
        """The round ended in a question: the retry that answers it is free, once.

        Only calls that asked are remembered. Remembering every charged call (as 0.2.0 did) filled
        the table to its capacity under load: 2.4 MiB held for calls that would never come back.
        """
        self._prepaid.remember(principal, call_id)

    def charge(self, principal: str) -> float:
        """Take one token from the principal's call bucket for work that is not a tool call.

        Opening an MCP session (``initialize``, an SSE connection) costs the same as a call, so a
        flood of session openings runs into the same limit. Returns 0 when charged, else the
        seconds until a token is there (nothing was taken).
        """
        return self._buckets.take(principal)

    def rate_message(self, principal: str, wait: float) -> str:
        """The refusal text for a rate-limited principal (the same words the tool calls get)."""
        return (
            f"'{principal}' is over {self._config.calls_per_minute} calls per minute "
            f"(burst {self._config.burst}); retry in {math.ceil(wait)} s"
        )

    @asynccontextmanager
    async def sandbox_slot(self, principal: str) -> AsyncIterator[None]:
        """Hold one of the principal's concurrent-sandbox slots for the duration of execution."""
        cap = self._config.max_concurrent_sandboxes
        running = self._running.get(principal, 0)
        if running >= cap:
            raise Denied(
                "limits",
                "too_many_sandboxes",
                f"'{principal}' already runs {running} sandboxes (limit {cap}); retry when one finishes",
            )
        self._running[principal] = running + 1
        try:
            yield
        finally:
            left = self._running[principal] - 1
            if left:
                self._running[principal] = left
            else:
                del self._running[principal]
