"""Change sets that wait for a yes between two protocol rounds (2026-07-28), kept on the server.

In the stateless era a question ends the round; the client retries the same call with the answer.
The command must not run twice, so its result and its layer wait here, keyed by the call id (which
travels in the SDK-sealed request state, bound to the tool, arguments and principal). An entry is
taken once (a replayed retry finds nothing) and expires; an expired or dropped entry's layer is
discarded. A later version can share this store between replicas behind the same three methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Discardable(Protocol):
    def discard(self) -> None: ...


class PendingChanges:
    """A small, thread-safe map ``call id -> (item, deadline)``.

    Bounded (16 entries by default, the oldest dropped first): each entry holds a layer of up to
    ``max_bytes`` in memory, so unanswered questions cannot pile up without limit.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 16) -> None:
        self._clock = clock
        self._max = max_entries
        self._items: dict[str, tuple[Any, float]] = {}
        self._spent: dict[str, float] = {}  # call ids taken or expired, remembered for a while
        self._lock = threading.Lock()

    def put(self, call_id: str, item: Discardable, ttl_s: float) -> None:
        """Keep ``item`` until taken or ``ttl_s`` passed; the oldest goes first when full."""
        with self._lock:
            dropped = self._expire_locked()
            old = self._items.pop(call_id, None)
            if old is not None:
                dropped.append(old[0])
            while len(self._items) >= self._max:
                oldest = min(self._items, key=lambda key: self._items[key][1])
                dropped.append(self._items.pop(oldest)[0])
            self._items[call_id] = (item, self._clock() + ttl_s)
        for gone in dropped:
            gone.discard()

    def take(self, call_id: str) -> Any | None:
        """The item for this call (removed from the store), or None when absent or expired."""
        with self._lock:
            dropped = self._expire_locked()
            entry = self._items.pop(call_id, None)
            if entry is not None:
                self._spent[call_id] = entry[1]
        for gone in dropped:
            gone.discard()
        return None if entry is None else entry[0]

    def spent(self, call_id: str) -> bool:
        """Whether this call's change set was already taken or expired (a retry must not run again)."""
        with self._lock:
            self._expire_locked()
            return call_id in self._spent

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def close(self) -> None:
        """Discard everything (server shutdown)."""
        with self._lock:
            items = [item for item, _ in self._items.values()]
            self._items.clear()
        for item in items:
            item.discard()

    def _expire_locked(self) -> list[Any]:
        now = self._clock()
        stale = [key for key, (_, deadline) in self._items.items() if deadline <= now]
        for key in stale:
            self._spent[key] = self._items[key][1]
        # A spent id is remembered for as long again as its entry could have lived (bounded).
        for key in [k for k, deadline in self._spent.items() if deadline + (deadline - now) < now - 3600]:
            del self._spent[key]
        while len(self._spent) > 4096:
            del self._spent[next(iter(self._spent))]
        return [self._items.pop(key)[0] for key in stale]
