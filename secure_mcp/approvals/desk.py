"""The approval desk: what the confirm stage needs to put a question in front of an approver.

It owns the decision store, knows where the console can be reached (once it is serving), and
builds the bindings that tie an answer to one exact action. The console, the CLI and the
elicitation channels never build bindings themselves: they only name the digest they were shown.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from secure_mcp.approvals.store import DecisionStore, MemoryDecisionStore, PendingDecision


def canonical_digest(value: Any) -> str:
    """sha256 of canonical JSON: key order and spacing can never change a digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def binding_digest(principal: str, tool: str, raw_args: Mapping[str, Any], extra: str, policy_version: str) -> str:
    """What an approval is for: this principal, this tool, these arguments, this extra digest, this policy."""
    return canonical_digest(
        {
            "principal": principal,
            "tool": tool,
            "arguments": canonical_digest(dict(raw_args)),
            "extra": extra,
            "policy": policy_version,
        }
    )


def policy_version(config: Any) -> str:
    """A short digest of every setting that decides what needs a yes (tools, sanitize, confirmation).

    A change of policy (a restart with another config) voids every approval given under the old one.
    """
    parts = {name: getattr(config, name).model_dump(mode="json") for name in ("tools", "sanitize", "confirmation")}
    return canonical_digest(parts)[:16]


class ApprovalDesk:
    """Pending decisions plus the console's address; shared by the confirm stage, the console and the CLI API."""

    def __init__(
        self,
        policy: str,
        store: DecisionStore | None = None,
        public_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store: DecisionStore = store if store is not None else MemoryDecisionStore(clock)
        self.policy_version = policy
        self._public_url = public_url.rstrip("/")
        self._served_url: str | None = None
        self._clock = clock

    @property
    def console_url(self) -> str | None:
        """The console's address as a person reaches it, or None while no console is serving."""
        if self._served_url is None:
            return None
        return self._public_url or self._served_url

    def serving(self, url: str | None) -> None:
        """Called by the console when it starts (its bound address) and stops (None)."""
        self._served_url = url.rstrip("/") if url else None

    def link_for(self, decision_id: str) -> str | None:
        """The console page of one decision. It carries no credential: it may pass through the agent."""
        base = self.console_url
        return None if base is None else f"{base}/?call={decision_id}"

    async def open(
        self,
        *,
        call_id: str,
        tool: str,
        principal: str,
        transport: str,
        question: str,
        binding: str,
        timeout_s: float,
    ) -> PendingDecision:
        """A new pending decision, visible in the console at once."""
        decision_id = secrets.token_hex(5)
        now = self._clock()
        expires = now + timeout_s
        digest = canonical_digest(
            {"id": decision_id, "binding": binding, "question": question, "expires": round(expires, 3)}
        )
        pending = PendingDecision(
            id=decision_id,
            call_id=call_id,
            tool=tool,
            principal=principal,
            transport=transport,
            question=question,
            binding=binding,
            digest=digest,
            policy_version=self.policy_version,
            created=now,
            expires=expires,
        )
        await self.store.put(pending)
        return pending
