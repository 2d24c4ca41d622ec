"""SIGTERM shuts the server down as gracefully as SIGINT, on every transport.

SIGTERM is what systemd, ``docker stop`` and Kubernetes send. In 0.1 uvicorn caught it, drained the
connections and then re-raised it with the default handler, which ended the process on the spot:
the warm-pool containers stayed running and the audit log got no stop record. SIGINT only worked
by luck of timing (the re-raised SIGINT cancels the main task at its next ``await``, which can be
inside the cleanup itself).

Over HTTP, uvicorn's own signal handling is switched off and this module owns both signals: the
first asks uvicorn to stop (it stops accepting, lets calls in flight finish for up to
``GRACE_S``, then cancels what is left), a second stops it at once. ``serve`` then returns normally,
so the runtime's cleanup (pool containers removed, ``server_stop`` written, log closed) runs with no
cancellation pending. On stdio, SIGTERM is handed to the SIGINT handler, which ends the session the
same way Ctrl-C does.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

import anyio
import uvicorn

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 5
POLL_S = 0.05


class QuietUvicorn(uvicorn.Server):
    """uvicorn that installs no signal handlers and re-raises none: ``stop_on_signals`` decides."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Streams(Protocol):
    """The long-lived responses of the HTTP app (``SessionPolicy`` satisfies it)."""

    def end_streams(self, *, with_results: bool) -> int: ...


async def drain(streams: Streams, active_calls: Callable[[], int], grace_s: float = GRACE_S) -> None:
    """End the streams uvicorn would otherwise wait on, without cutting an answer off.

    Streams that carry no call results go at once; calls in flight get up to ``grace_s`` to be
    answered, then the streams that carry answers (SSE) go too.
    """
    streams.end_streams(with_results=False)
    with anyio.move_on_after(grace_s):
        while active_calls() > 0:
            await anyio.sleep(POLL_S)
    await anyio.sleep(POLL_S)  # the last answer is written to its stream before the stream is ended
    streams.end_streams(with_results=True)


async def stop_on_signals(
    server: uvicorn.Server, on_stop: Callable[[], Coroutine[Any, Any, None]] | None = None
) -> None:
    """First SIGINT/SIGTERM: graceful stop (and ``on_stop``); a second one: stop now. Runs until cancelled."""
    async with anyio.create_task_group() as group:
        with anyio.open_signal_receiver(*SIGNALS) as received:
            async for signum in received:
                name = signal.Signals(signum).name
                if server.should_exit:
                    logger.warning("second %s: stopping without waiting for calls in flight", name)
                    server.force_exit = True
                    group.cancel_scope.cancel()
                    return
                logger.warning("%s: shutting down", name)
                server.should_exit = True
                if on_stop is not None:
                    group.start_soon(on_stop)


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """While inside, SIGTERM does what SIGINT does (stdio: end the session, clean up, exit)."""
    previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
