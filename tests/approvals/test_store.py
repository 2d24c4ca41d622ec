"""The pending-decision store: first answer wins, digests bind, expiry, single use."""

from __future__ import annotations

import anyio
import pytest

from secure_mcp.approvals.desk import ApprovalDesk, binding_digest
from secure_mcp.approvals.store import Decision, MemoryDecisionStore, PendingDecision

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def open_one(desk: ApprovalDesk, args: dict[str, str] | None = None, timeout: float = 60) -> PendingDecision:
    binding = binding_digest("alice", "run_command", args or {"command": "rm x"}, "", desk.policy_version)
    return await desk.open(
        call_id="c1",
        tool="run_command",
        principal="alice",
        transport="stdio",
        question="rm x?",
        binding=binding,
        timeout_s=timeout,
    )


def yes(channel: str = "console") -> Decision:
    return Decision(True, "bob", channel, 1000.0)  # type: ignore[arg-type]


async def test_first_answer_wins_and_waiters_wake() -> None:
    desk = ApprovalDesk("p1")
    pending = await open_one(desk)
    woke: list[object] = []

    async def waiter() -> None:
        woke.append(await desk.store.wait(pending.id, 5))

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.sleep(0.01)
        first = await desk.store.decide(pending.id, pending.digest, yes())
        second = await desk.store.decide(pending.id, pending.digest, yes("cli"))
    assert not isinstance(first, str) and first.decision is not None and first.decision.channel == "console"
    assert second == "already_decided"
    assert woke and woke[0] is not None


async def test_digest_must_match_and_expiry_closes() -> None:
    clock = Clock()
    desk = ApprovalDesk("p1", clock=clock)
    pending = await open_one(desk, timeout=10)
    assert await desk.store.decide(pending.id, "0" * 64, yes()) == "digest_mismatch"
    assert await desk.store.decide("nope", pending.digest, yes()) == "unknown"
    clock.now += 11
    assert await desk.store.decide(pending.id, pending.digest, yes()) == "expired"
    waiting, recent = await desk.store.snapshot()
    assert waiting == [] and recent[0].closed == "expired"


async def test_an_approval_is_consumed_once() -> None:
    desk = ApprovalDesk("p1")
    pending = await open_one(desk)
    assert not await desk.store.consume(pending.id)  # not decided yet
    await desk.store.decide(pending.id, pending.digest, yes())
    assert await desk.store.consume(pending.id)
    assert not await desk.store.consume(pending.id)


async def test_bindings_differ_for_any_change() -> None:
    base = binding_digest("alice", "write_file", {"path": "a", "content": "x"}, "", "p1")
    assert base == binding_digest("alice", "write_file", {"content": "x", "path": "a"}, "", "p1")
    assert base != binding_digest("bob", "write_file", {"path": "a", "content": "x"}, "", "p1")
    assert base != binding_digest("alice", "run_command", {"path": "a", "content": "x"}, "", "p1")
    assert base != binding_digest("alice", "write_file", {"path": "a", "content": "y"}, "", "p1")
    assert base != binding_digest("alice", "write_file", {"path": "a", "content": "x"}, "changes:1", "p1")
    assert base != binding_digest("alice", "write_file", {"path": "a", "content": "x"}, "", "p2")


async def test_find_returns_the_same_decision_only_for_the_same_action() -> None:
    desk = ApprovalDesk("p1")
    pending = await open_one(desk)
    import hashlib

    q = hashlib.sha256(b"rm x?").hexdigest()
    assert await desk.store.find("c1", pending.binding, q) == pending
    assert await desk.store.find("c2", pending.binding, q) is None
    assert await desk.store.find("c1", "other", q) is None
    assert await desk.store.find("c1", pending.binding, "0" * 64) is None


async def test_changed_wakes_on_new_pending() -> None:
    store = MemoryDecisionStore()
    desk = ApprovalDesk("p1", store=store)
    version = await store.changed(-1, 0)
    seen: list[int] = []

    async def watch() -> None:
        seen.append(await store.changed(version, 5))

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        await anyio.sleep(0.01)
        await open_one(desk)
    assert seen == [version + 1]
