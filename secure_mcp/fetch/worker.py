"""HTML conversion in a worker process that is killed when the fetch's time is up.

Parsing is where the time goes: ``html.parser`` takes a whole 1 MiB page of ``<br>`` in one
``feed()`` call and needs seconds of CPU, and markdownify then walks the tree for seconds more. A
budget checked by the converter cannot interrupt either, and a thread cannot be stopped at all (0.1
ran the conversion in a thread, so ``timeout_s = 1`` returned after 13-18 s with a core busy). A
process can be killed, so conversions run in worker processes.

A worker is a plain ``python`` running ``child_main``, not ``multiprocessing`` (its spawn and
forkserver modes re-import the caller's ``__main__`` in the child, which breaks any script that
calls ``fetch`` without an ``if __name__ == "__main__"`` guard). It imports the converter once and
then converts one page at a time, framed over its own stdin/stdout pipes, never this process's
stdout (on the stdio transport that is the protocol wire). A worker that runs out of time is
killed, never reused; a finished one goes back to a small idle pool and is retired after
``RECYCLE_AFTER`` pages. Before each page the worker lowers its own CPU limit (``RLIMIT_CPU``) to
what it has used plus the page's budget, so it ends even if this process dies before it can kill it;
an idle worker exits when its stdin closes.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Literal

import anyio
import anyio.to_thread

ConvertFormat = Literal["markdown", "text"]
_COMMAND = (sys.executable, "-c", "from secure_mcp.fetch.worker import child_main; child_main()")
_HEADER = struct.Struct(">Q")
MAX_IDLE = 2
RECYCLE_AFTER = 200
_REAP_S = 5.0


class ConversionTimeout(Exception):
    """The conversion did not finish within its budget; the worker was killed."""


class ConversionFailed(Exception):
    """The worker died or raised; the page is not returned (nothing half-converted leaks out)."""


# --- the worker process ---------------------------------------------------------------------------


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def child_main() -> None:
    """The worker's loop: a framed job in, a framed answer out, until stdin closes."""
    from secure_mcp.fetch.convert import html_to_markdown, html_to_text

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = _read_exactly(source, _HEADER.size)
        body = _read_exactly(source, _HEADER.unpack(header)[0]) if header is not None else None
        if body is None:
            return  # the server closed the pipe (or went away)
        try:
            job = json.loads(body)
            used = resource.getrusage(resource.RUSAGE_SELF)
            spent = math.ceil(used.ru_utime + used.ru_stime)
            resource.setrlimit(resource.RLIMIT_CPU, (spent + int(job["cpu_s"]), resource.RLIM_INFINITY))
            convert = html_to_markdown if job["fmt"] == "markdown" else html_to_text
            text, hidden = convert(str(job["html"]))
            answer: dict[str, object] = {"ok": True, "text": text, "hidden": hidden}
        except Exception as exc:  # reported by name only: the page's text stays out of messages
            answer = {"ok": False, "error": type(exc).__name__}
        encoded = json.dumps(answer).encode()
        sink.write(_HEADER.pack(len(encoded)) + encoded)
        sink.flush()


# --- this side ------------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    pages: int = 0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait(_REAP_S)

    def retire(self) -> None:
        """Close its stdin: an idle worker then exits by itself."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.close()
            except OSError:
                pass


class _Pool:
    """Idle workers, taken one per page; thread-safe (pages are converted from worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []

    def take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
        process = subprocess.Popen(
            _COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True
        )
        return _Worker(process)

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive and worker.pages < RECYCLE_AFTER and len(self._idle) < MAX_IDLE:
                self._idle.append(worker)
                return
        worker.retire()


_pool = _Pool()


def _exchange(worker: _Worker, job: bytes, deadline: float) -> bytes | None:
    """Send one framed job and read the framed answer by ``deadline``; ``None`` when time ran out."""
    stdin, stdout = worker.process.stdin, worker.process.stdout
    if stdin is None or stdout is None:
        raise ConversionFailed("no pipes")
    stdin.write(_HEADER.pack(len(job)) + job)
    stdin.flush()
    received = b""
    expected: int | None = None
    while expected is None or len(received) < expected:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stdout], [], [], left)[0]:
            return None
        chunk = os.read(stdout.fileno(), 1 << 20)  # unbuffered: select() must see everything unread
        if not chunk:
            raise ConversionFailed(f"worker ended with {worker.process.poll()}")
        received += chunk
        if expected is None and len(received) >= _HEADER.size:
            expected = _HEADER.size + int(_HEADER.unpack(received[: _HEADER.size])[0])
    return received[_HEADER.size : expected]


def _convert(job: bytes, deadline: float) -> bytes | None:
    worker = _pool.take()
    done = False
    try:
        answer = _exchange(worker, job, deadline)
        done = answer is not None
        return answer
    except OSError as exc:  # broken pipe: the worker died
        raise ConversionFailed(type(exc).__name__) from None
    finally:
        if done:
            worker.pages += 1
            _pool.give_back(worker)
        else:
            worker.kill()  # out of time, or broken: never reused


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
    deadline = time.monotonic() + budget_s
    job = json.dumps({"html": html, "fmt": fmt, "cpu_s": max(1, math.ceil(budget_s)) + 1}).encode()
    try:
        raw = await anyio.to_thread.run_sync(_convert, job, deadline)
    except OSError as exc:
        raise ConversionFailed(type(exc).__name__) from None
    if raw is None:
        raise ConversionTimeout()
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ConversionFailed("unreadable answer") from None
    if isinstance(answer, dict) and answer.get("ok") is True:
        text, hidden = answer.get("text"), answer.get("hidden")
        if isinstance(text, str) and isinstance(hidden, int):
            return text, hidden
    error = answer.get("error") if isinstance(answer, dict) else None
    raise ConversionFailed(str(error)[:60] if error else "bad answer")
