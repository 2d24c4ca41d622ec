"""HTML conversion in a child process that is killed when the fetch's time is up.

Parsing is where the time goes: ``html.parser`` takes a whole 1 MiB page of ``<br>`` in one
``feed()`` call and needs seconds of CPU, and markdownify then walks the tree for seconds more. A
budget checked by the converter cannot interrupt either, and a thread cannot be stopped at all (0.1
ran the conversion in a thread, so ``timeout_s = 1`` returned after 13-18 s with a core busy). A
process can be killed, so each conversion runs in one, forked from a ``forkserver`` that has the
converter already imported (about 7 ms per conversion; the first one starts the server, ~150 ms).

The child also caps its own CPU time (``RLIMIT_CPU``), so it ends even if this process dies before
it can kill it. It writes nothing to stdout, which on the stdio transport is the protocol wire.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import time
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import Literal

import anyio
import anyio.to_thread

from secure_mcp.fetch.convert import html_to_markdown, html_to_text

ConvertFormat = Literal["markdown", "text"]
_PRELOAD = ["secure_mcp.fetch.convert"]
_REAP_S = 5.0
_context: ForkServerContext | None = None


class ConversionTimeout(Exception):
    """The conversion did not finish within its budget; the worker was killed."""


class ConversionFailed(Exception):
    """The worker died or raised; the page is not returned (nothing half-converted leaks out)."""


def _fork_context() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _context = context
    return _context


def _child(sender: Connection, html: str, fmt: ConvertFormat, cpu_s: int) -> None:
    """Runs in the worker: convert, send ``("ok", text, hidden)`` or ``("error", name)``, exit."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # never a byte on the stdio transport's wire
    os.close(quiet)
    try:
        text, hidden = html_to_markdown(html) if fmt == "markdown" else html_to_text(html)
        sender.send(("ok", text, hidden))
    except BaseException as exc:  # reported by name only: the page's text stays out of messages
        sender.send(("error", type(exc).__name__))
    finally:
        sender.close()


def _receive(receiver: Connection, budget_s: float) -> tuple[object, ...] | None:
    """Wait up to ``budget_s`` for the worker's answer; ``None`` when the time ran out."""
    if not receiver.poll(budget_s):
        return None
    message = receiver.recv()
    return message if isinstance(message, tuple) else ("error", "bad answer")


async def convert_html(html: str, fmt: ConvertFormat, budget_s: float) -> tuple[str, int]:
    """Convert ``html`` to ``fmt`` in a killable worker within ``budget_s`` seconds.

    Returns:
        The converted text and the number of hidden elements removed.

    Raises:
        ConversionTimeout: the budget ran out (or was already spent); the worker is killed.
        ConversionFailed: the worker crashed or the converter raised.
    """
    if budget_s <= 0:
        raise ConversionTimeout()
    context = _fork_context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_child, args=(sender, html, fmt, max(1, math.ceil(budget_s)) + 1), name="secure-mcp-convert", daemon=True
    )
    started = time.monotonic()
    try:
        await anyio.to_thread.run_sync(worker.start)  # the first start launches the fork server
        sender.close()
        left = budget_s - (time.monotonic() - started)
        answer = await anyio.to_thread.run_sync(_receive, receiver, max(left, 0.0), abandon_on_cancel=True)
    except (OSError, EOFError, ValueError) as exc:
        raise ConversionFailed(type(exc).__name__) from None
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop, worker, receiver, sender)
    if answer is None:
        raise ConversionTimeout()
    if len(answer) == 3 and answer[0] == "ok" and isinstance(answer[1], str) and isinstance(answer[2], int):
        return answer[1], answer[2]
    raise ConversionFailed(str(answer[1])[:60] if len(answer) > 1 else "bad answer")


def _stop(worker: multiprocessing.process.BaseProcess, receiver: Connection, sender: Connection) -> None:
    """Kill the worker if it still runs, reap it, close both pipe ends."""
    if worker.pid is not None:
        if worker.is_alive():
            worker.kill()
        worker.join(_REAP_S)
    receiver.close()
    sender.close()
