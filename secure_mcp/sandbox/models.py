"""What a caller hands the sandbox and what it gets back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from secure_mcp.sandbox.layer import Layer

#: ``(elapsed seconds, output bytes so far)``; called at most once a second while a call runs.
ProgressCallback = Callable[[float, int], Awaitable[None]]


@dataclass(frozen=True)
class SandboxRequest:
    """One call to run in a fresh container.

    Args:
        kind: ``python`` runs ``source`` as ``python3 -c`` would; ``shell`` runs
            ``bash --noprofile --norc -c source`` under the exec tracer.
        source: the code or the command. It travels on the container's stdin, never on a command line.
        workdir: the container path to start in; must be ``/workspace`` or below it.
        workspace_rw: mount the workspace read-write (``run_command``, or ``execute_python`` when
            configured ``rw``); read-only otherwise. The sandbox never widens this on its own.
        timeout_s: wall-clock limit once the request is handed over; capped at ``[sandbox] timeout_s``.
        max_output_bytes: stdout and stderr *combined*; capped at ``[sandbox] max_output_bytes``.
        approved: for ``shell``: the program names (bare, or paths from ``workdir``) any process of
            the call may start besides bash; resolved to real paths inside the container. Required
            in ``enforce`` mode: a shell request without it is refused. Ignored for ``python``
            (``execute_python`` code is not traced).
        exec_mode: ``enforce`` stops the call at the first exec of an unapproved program;
            ``report`` stops nothing and returns every exec (``SandboxResult.execs``; the
            differential test); ``off`` runs bash untraced (benchmarks only; no tool uses it).
    """

    kind: Literal["python", "shell"]
    source: str
    workdir: str = "/workspace"
    workspace_rw: bool = False
    timeout_s: int = 30
    max_output_bytes: int = 1048576
    approved: tuple[str, ...] | None = None
    exec_mode: Literal["enforce", "report", "off"] = "enforce"


@dataclass(frozen=True)
class BlockedExec:
    """A program the tracer stopped before it ran: its real path in the image and its argv."""

    program: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class SandboxResult:
    """How the call ended. A non-zero exit, a timeout or a truncation is a result, not an error.

    ``exit_code`` is None when the sandbox killed the container (timeout, output cap, cancel).
    ``output_bytes`` counts every byte the code wrote that reached the server, kept or not.
    ``blocked`` is set when the tracer stopped an unapproved program (the whole call was killed);
    ``execs`` lists ``(program, *argv)`` of every exec in ``report`` mode; ``tracer_error`` says
    why the runner refused to run a shell request at all (fail closed).
    Nothing a read-write run wrote has reached the workspace yet: it is all in ``layer``.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    duration_ms: float
    output_bytes: int
    blocked: BlockedExec | None = None
    execs: tuple[tuple[str, ...], ...] = ()
    tracer_error: str | None = None
    layer: Layer | None = None
    """A read-write run's copy-on-write layer: what it changed. The caller must ``discard`` it."""
