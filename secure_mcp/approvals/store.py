"""Pending decisions: one per question, resolved once by whichever channel answers first.

Elicitation (form or URL mode), the console and ``secure-mcp approvals`` all resolve the same
``PendingDecision``. The store is the only shared state between them, and it sits behind the small
``DecisionStore`` protocol so that a later version can keep it outside the process (shared between
replicas) without touching the confirm stage or the console. Every method is async for that reason.

Rules the store enforces (the callers rely on them):
- first answer wins: ``decide`` succeeds once per decision; later answers get ``already_decided``;
- an answer names the digest of the exact action it saw; another digest is ``digest_mismatch``;
- a decision expires: after ``expires`` it can no longer be answered;
- an approval is used once: ``consume`` succeeds once.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import anyio

Channel = Literal["elicitation", "url", "console", "cli"]
DecideError = Literal["unknown", "already_decided", "expired", "digest_mismatch"]
RECENT_KEPT = 50


@dataclass(frozen=True, slots=True)
class Decision:
    """What a person answered, where and when."""

    approved: bool
    approver: str
    channel: Channel
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PendingDecision:
    """A question waiting for a person.

    ``binding`` digests {principal, tool, arguments, extra digest (e.g. a change set), policy
    version}; ``digest`` adds the exact question text, the id and the expiry: it is what an
    approver's answer must name, so an approval cannot be moved to another action.
    """

    id: str
    call_id: str
    tool: str
    principal: str
    transport: str
    question: str
    binding: str
    digest: str
    policy_version: str
    created: float
    expires: float
    decision: Decision | None = None
    consumed: bool = False
    closed: str | None = None  # why it left the pending list: decided, expired, withdrawn

    def public(self) -> dict[str, object]:
        """The fields the console and the CLI show (the question is already redacted)."""
        d = self.decision
        return {
            "id": self.id,
            "tool": self.tool,
            "principal": self.principal,
            "transport": self.transport,
            "question": self.question,
            "digest": self.digest,
            "created": self.created,
            "expires": self.expires,
            "state": self.closed or "pending",
            "approved": None if d is None else d.approved,
            "approver": None if d is None else d.approver,
            "channel": None if d is None else d.channel,
            "decided_at": None if d is None else d.at,
            "waited_ms": None if d is None else round((d.at - self.created) * 1000, 1),
        }


class DecisionStore(Protocol):
    """The one interface every channel uses. Implementations must make ``decide`` atomic."""

    async def put(self, pending: PendingDecision) -> None: ...

    async def get(self, decision_id: str) -> PendingDecision | None: ...

    async def find(self, call_id: str, binding: str, digest_of_question: str) -> PendingDecision | None:
        """The open or decided decision for this call and this exact action (a 2026-07-28 retry)."""
        ...

    async def decide(self, decision_id: str, digest: str, decision: Decision) -> PendingDecision | DecideError: ...

    async def wait(self, decision_id: str, timeout_s: float) -> PendingDecision | None:
        """Until decided (returns it) or ``timeout_s`` passed (returns None)."""
        ...

    async def consume(self, decision_id: str) -> bool: ...

    async def close(self, decision_id: str, why: str) -> None:
        """Take it off the pending list (expired or withdrawn); a decided one is already off."""
        ...

    async def snapshot(self) -> tuple[list[PendingDecision], list[PendingDecision]]:
        """(pending oldest first, recent newest first)."""
        ...

    async def changed(self, version: int, timeout_s: float) -> int:
        """Wait until the store's version differs from ``version`` (or the timeout); return the version."""
        ...


@dataclass
class _Entry:
    item: PendingDecision
    done: anyio.Event = field(default_factory=anyio.Event)


class MemoryDecisionStore:
    """The in-process store: one server process, one event loop (no locks needed: no awaits inside updates)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._recent: deque[str] = deque(maxlen=RECENT_KEPT)
        self._version = 0
        self._bumped = anyio.Event()

    def _bump(self) -> None:
        self._version += 1
        self._bumped.set()
        self._bumped = anyio.Event()

    def _expire(self) -> None:
        now = self._clock()
        for entry in self._entries.values():
            item = entry.item
            if item.closed is None and item.decision is None and now > item.expires:
                entry.item = replace(item, closed="expired")
                self._recent.appendleft(item.id)
                entry.done.set()
                self._bump()
        # forget entries that fell out of the recent list and can no longer be answered
        keep = set(self._recent)
        for key in [k for k, e in self._entries.items() if e.item.closed is not None and k not in keep]:
            if now > self._entries[key].item.expires:
                del self._entries[key]

    async def put(self, pending: PendingDecision) -> None:
        if pending.id in self._entries:
            raise ValueError("decision id already used")
        self._entries[pending.id] = _Entry(pending)
        self._bump()

    async def get(self, decision_id: str) -> PendingDecision | None:
        self._expire()
        entry = self._entries.get(decision_id)
        return entry.item if entry is not None else None

    async def find(self, call_id: str, binding: str, digest_of_question: str) -> PendingDecision | None:
        self._expire()
        for entry in self._entries.values():
            item = entry.item
            if item.call_id == call_id and item.binding == binding and _question_digest(item) == digest_of_question:
                return item
        return None

    async def decide(self, decision_id: str, digest: str, decision: Decision) -> PendingDecision | DecideError:
        self._expire()
        entry = self._entries.get(decision_id)
        if entry is None:
            return "unknown"
        item = entry.item
        if item.decision is not None:
            return "already_decided"
        if item.closed is not None or self._clock() > item.expires:
            return "expired"
        if digest != item.digest:
            return "digest_mismatch"
        entry.item = replace(item, decision=decision, closed="decided")
        self._recent.appendleft(item.id)
        entry.done.set()
        self._bump()
        return entry.item

    async def wait(self, decision_id: str, timeout_s: float) -> PendingDecision | None:
        entry = self._entries.get(decision_id)
        if entry is None:
            return None
        with anyio.move_on_after(max(0.0, timeout_s)):
            await entry.done.wait()
        current = self._entries.get(decision_id)
        if current is None or current.item.decision is None:
            return None
        return current.item

    async def consume(self, decision_id: str) -> bool:
        entry = self._entries.get(decision_id)
        if entry is None or entry.item.decision is None or entry.item.consumed:
            return False
        entry.item = replace(entry.item, consumed=True)
        return True

    async def close(self, decision_id: str, why: str) -> None:
        entry = self._entries.get(decision_id)
        if entry is None or entry.item.closed is not None:
            return
        entry.item = replace(entry.item, closed=why)
        self._recent.appendleft(decision_id)
        entry.done.set()
        self._bump()

    async def snapshot(self) -> tuple[list[PendingDecision], list[PendingDecision]]:
        self._expire()
        pending = sorted((e.item for e in self._entries.values() if e.item.closed is None), key=lambda i: i.created)
        recent = [self._entries[k].item for k in self._recent if k in self._entries]
        return pending, recent

    async def changed(self, version: int, timeout_s: float) -> int:
        if version == self._version:
            event = self._bumped
            with anyio.move_on_after(timeout_s):
                await event.wait()
        self._expire()
        return self._version


def _question_digest(item: PendingDecision) -> str:
    return hashlib.sha256(item.question.encode()).hexdigest()
