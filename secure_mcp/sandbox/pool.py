"""The warm pool and the janitor: background threads that start and remove containers.

Starting a container costs a few hundred milliseconds; removing one, tens. Both are moved off the
call's path into daemon threads (``SPAWNERS`` of them, so a burst of calls drains the pool less
often; a container being started is reserved for its mode, so the pool never overfills), because
the Docker SDK blocks and a thread needs no event
loop (so the pool works whatever task started the sandbox). A pooled container is exactly like a
cold one (same flags, same single use); the pool only decides *when* it was started.

The workspace mount mode is fixed when a container is created, so the pool keeps one queue per
mode (``False`` = read-only). Each read-write container comes with its own fresh copy-on-write layer
(made by ``spawn``), so a pooled container sees the workspace as it is when the command runs, and
what it changes is judged by the same effects rules whenever it was created. A container that died
while waiting is discarded, never used.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.engine import Attached, Engine

SPAWNERS = 2
#: A pool that still has a container for a mode refills it only after calls paused this long: on a
#: small machine a container start competes with the calls of a burst for the same cores.
QUIET_S = 0.25
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0


class WarmPool:
    """Pre-started containers per workspace mode, refilled and cleaned in the background."""

    def __init__(
        self,
        engine: Engine,
        spawn: Callable[[bool], Attached],
        size: int,
        modes: tuple[bool, ...],
        spawners: int = SPAWNERS,
        sizes: dict[bool, int] | None = None,
    ) -> None:
        self._engine = engine
        self._spawn = spawn
        self._size = size
        self._sizes = {mode: (sizes or {}).get(mode, size) for mode in modes}
        self._spawners = max(1, spawners)
        self._ready: dict[bool, deque[Attached]] = {mode: deque() for mode in modes}
        self._doomed: deque[str] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._starting: dict[bool, int] = dict.fromkeys(modes, 0)
        self._threads: list[threading.Thread] = []
        self._last_call = 0.0
        self.last_error: SandboxError | None = None

    def start(self) -> None:
        """Start the background threads (idempotent)."""
        if not self._threads:
            for index in range(self._spawners):
                thread = threading.Thread(target=self._loop, name=f"secure-mcp-sandbox-pool-{index}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def take(self, workspace_rw: bool, wait_s: float = 0.0) -> Attached | None:
        """A ready container for this mode, or None; the caller must still check it is alive.

        With ``wait_s``, an empty queue whose mode has a container being started waits for it (up
        to ``wait_s``): it is ready sooner than a cold start begun now, which would also compete
        with the spawners for the same engine. Blocks; call it from a worker thread then.
        """
        with self._wake:
            queue = self._ready.get(workspace_rw)
            if queue is not None and not queue and wait_s > 0 and self._starting.get(workspace_rw, 0):
                self._wake.wait_for(lambda: bool(queue) or self._stopping, timeout=wait_s)
            attached = queue.popleft() if queue else None
            self._wake.notify_all()
            return attached

    def note_call(self) -> None:
        """A call started or ended now (see ``QUIET_S``)."""
        self._last_call = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds until calls have paused for ``QUIET_S`` (0 when they have)."""
        return max(0.0, self._last_call + QUIET_S - time.monotonic())

    def discard(self, container_id: str) -> None:
        """Remove this container soon, off the caller's path."""
        with self._wake:
            self._doomed.append(container_id)
            self._wake.notify()

    def target(self) -> int:
        """How many containers the pool keeps ready when full (all modes)."""
        return sum(self._sizes.values())

    def size(self) -> int:
        """How many containers wait in the pool now."""
        with self._wake:
            return sum(len(queue) for queue in self._ready.values())

    def close(self) -> None:
        """Stop refilling, then remove every pooled and every discarded container. Blocks."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join()
        with self._wake:
            leftovers = [a for queue in self._ready.values() for a in queue]
            for queue in self._ready.values():
                queue.clear()
            self._doomed.extend(a.container_id for a in leftovers)
        for attached in leftovers:
            attached.close()
        self._remove_doomed()
        for attached in leftovers:
            if attached.layer is not None:
                attached.layer.discard()  # after the container is gone

    def _loop(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            with self._wake:
                if self._stopping:
                    return
            self._remove_doomed()
            with self._wake:
                mode = self._short_mode()
                if mode is None:
                    if not self._doomed and not self._stopping:
                        self._wake.wait()
                    continue
                pause = self.quiet_for()
                if self._ready[mode] and pause > 0:  # still stocked: let the burst have the cores
                    self._wake.wait(timeout=pause)
                    continue
                self._starting[mode] += 1  # reserved: another spawner will not start one for it too
            try:
                attached = self._spawn(mode)
            except SandboxError as exc:
                # Engine down or image missing: calls report it; the pool retries slowly.
                self.last_error = exc
                with self._wake:
                    self._starting[mode] -= 1
                    self._wake.wait_for(lambda: self._stopping, timeout=backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            self.last_error = None
            backoff = BACKOFF_MIN_S
            with self._wake:
                self._starting[mode] -= 1
                if self._stopping:
                    self._doomed.append(attached.container_id)
                    attached.close()
                    if attached.layer is not None:
                        attached.layer.discard()  # lazily detached: safe while the container goes
                else:
                    self._ready[mode].append(attached)
                    self._wake.notify_all()  # a call may be waiting for exactly this one

    def _short_mode(self) -> bool | None:
        """A mode with fewer ready-or-starting containers than the pool size (call with the lock held)."""
        for mode, queue in self._ready.items():
            if len(queue) + self._starting[mode] < self._sizes[mode]:
                return mode
        return None

    def _remove_doomed(self) -> None:
        while True:
            with self._wake:
                if not self._doomed:
                    return
                container_id = self._doomed.popleft()
            try:
                self._engine.remove(container_id)
            except SandboxError as exc:
                self.last_error = exc  # the next start's orphan sweep removes it
