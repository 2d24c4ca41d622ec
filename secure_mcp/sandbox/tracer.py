"""Exec-time enforcement, baked into the sandbox image next to the runner at ``/opt/secure-mcp/tracer.py``.

The policy decides what a command may start by parsing it; a parser can disagree with the shell.
This module makes the container itself refuse a program the policy did not approve: it runs
``bash`` under ``ptrace`` and sees every successful ``execve``/``execveat`` of every process of the
call (forks, vforks and clones are traced from birth), at the moment the kernel has loaded the new
program and before it runs its first instruction. ``/proc/PID/exe`` then already names the new
program; if its real path is not in the approved set, every process of the call is killed at once
and the runner reports which program it was and with what argv.

Why ptrace and not seccomp user notification: a user-notify supervisor sees the ``execve``
*arguments* before the kernel resolves them (a path it must then re-resolve, racing the caller,
which can change memory or swap a symlink in between) and Docker's default profile leaves a
notification fd awkward to pass back. The ptrace exec stop happens after resolution, on the file
actually mapped, with no race; it works as an unprivileged user under the default profile.

Two holes of plain ptrace are closed by a small seccomp filter installed in the traced tree (it is
inherited and cannot be removed): ``clone(CLONE_UNTRACED)`` would create a child the tracer cannot
follow, so it fails with EPERM; syscalls of a foreign ABI (i386, x32) are refused. The runner also
makes itself non-dumpable, so a traced process cannot attach to it or read its memory.

Standard library only (ctypes), like the runner; Linux x86_64 or aarch64.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PTRACE_CONT = 7
PTRACE_SETOPTIONS = 0x4200
PTRACE_SEIZE = 0x4206
PTRACE_LISTEN = 0x4208
PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_EXITKILL = 0x100000
OPTIONS = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL
EVENT_EXEC = 4
EVENT_STOP = 128
WALL = 0x40000000
STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_UNTRACED = 0x00800000
#: (audit arch, clone, clone3) per machine.
_ARCHES = {"x86_64": (0xC000003E, 56, 435), "aarch64": (0xC00000B7, 220, 435)}

BASH = "/bin/bash"
MAX_ARGS = 32
MAX_ARG_CHARS = 256
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class TracerError(Exception):
    """The tracer could not do its job; the call is refused and the tree is killed."""


@dataclass
class Outcome:
    """How a traced command ended."""

    status: int
    blocked: dict[str, object] | None = None
    execs: list[list[str]] = field(default_factory=list)


_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
_ptrace.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong)
_prctl.restype = ctypes.c_int


def _call(request: int, pid: int, data: int = 0) -> bool:
    """One ptrace request; False when the tracee is already gone (ESRCH), TracerError otherwise."""
    if _ptrace(request, pid, None, ctypes.c_void_p(data)) == -1:
        err = ctypes.get_errno()
        if err == 3:  # ESRCH: killed meanwhile (SIGKILL needs no help from us)
            return False
        raise TracerError(f"ptrace({request:#x}, {pid}) failed: {os.strerror(err)}")
    return True


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF filter: foreign ABI -> kill, clone3 -> ENOSYS (libc falls back), untraced clone -> EPERM."""
    arch, clone, clone3 = _ARCHES[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, errno = 0x7FFF0000, 0x80000000, 0x00050000
    return [
        (ld, 0, 0, 4),  # 0: arch
        (jeq, 1, 0, arch),  # 1: native -> 3
        (ret, 0, 0, kill),  # 2
        (ld, 0, 0, 0),  # 3: syscall number
        (jge, 6, 0, 0x40000000),  # 4: x32 ABI -> 11
        (jeq, 5, 0, clone3),  # 5: -> 11
        (jeq, 0, 2, clone),  # 6: clone -> 7, else -> 9
        (ld, 0, 0, 16),  # 7: low half of args[0], the flags
        (jset, 1, 0, CLONE_UNTRACED),  # 8: -> 10
        (ret, 0, 0, allow),  # 9
        (ret, 0, 0, errno | 1),  # 10: EPERM
        (ret, 0, 0, errno | 38),  # 11: ENOSYS
    ]


def install_seccomp() -> None:
    """Install the filter in the calling process (inherited by all it starts; cannot be removed)."""
    program = seccomp_program(platform.machine())
    filters = (_SockFilter * len(program))(*(_SockFilter(*row) for row in program))
    fprog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    if _prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise TracerError(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
    if _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.pointer(fprog), ctypes.c_void_p), 0, 0) != 0:
        raise TracerError(f"seccomp: {os.strerror(ctypes.get_errno())}")


def _is_program(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _lookup(name: str, search: str) -> str | None:
    """Where bash would find a bare name on ``search``: the first executable file."""
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_program(candidate):
            return candidate
    return None


def _interpreters(path: str, search: str) -> list[str]:
    """The ``#!`` interpreter of a script (and what ``env`` would run), so approving a script runs it."""
    try:
        with open(path, "rb") as script:
            head = script.read(256)
    except OSError:
        return []
    if not head.startswith(b"#!"):
        return []
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not words:
        return []
    found = [words[0]]
    if os.path.basename(words[0]) == "env":
        rest = [word for word in words[1:] if not word.startswith("-")]
        program = _lookup(rest[0], search) if rest else None
        if program is not None:
            found.append(program)
    return found


def resolve_approved(names: Sequence[str], cwd: str, search: str = DEFAULT_PATH) -> frozenset[str]:
    """The real paths, in this container, of the approved names; ``bash`` is always approved.

    A bare name is looked up on PATH as bash would; a name with a slash is taken from ``cwd``.
    Symlinks are resolved, so ``rm``, ``/bin/rm`` and ``/usr/bin/rm`` are one program, and
    ``python3`` is ``python3.11``. A name that is no program here approves nothing.
    """
    paths = {os.path.realpath(BASH)}
    for name in names:
        if not name:
            continue
        path = os.path.join(cwd, name) if "/" in name else _lookup(name, search)
        if path is None or not _is_program(path):
            continue
        paths.add(os.path.realpath(path))
        for interpreter in _interpreters(path, search):
            paths.add(os.path.realpath(interpreter))
    return frozenset(paths)


def _argv(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            raw = cmdline.read(MAX_ARGS * MAX_ARG_CHARS * 4)
    except OSError:
        return []
    args = raw.split(b"\0")[:-1] if raw.endswith(b"\0") else raw.split(b"\0")
    return [arg.decode("utf-8", "replace")[:MAX_ARG_CHARS] for arg in args[:MAX_ARGS]]


def _program(pid: int) -> str:
    """The file the process now runs; unreadable (an execute-only file) reads as ``<unreadable>``."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return "<unreadable>"


def _kill_all(pids: set[int]) -> None:
    """SIGKILL every process of the call, then reap until none is left.

    Every process of the call is a tracee (fork, vfork and clone are traced from birth; the seccomp
    filter refuses ``CLONE_UNTRACED``), so each one reports to this loop: one we had not seen yet
    (a child born while we were killing its parent) is killed the moment it reports. A SIGKILL ends
    a tracee even in a ptrace stop, before it runs another instruction.
    """
    for pid in pids:
        _sigkill(pid)
    while True:
        try:
            pid, wait_status = os.waitpid(-1, WALL)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if os.WIFSTOPPED(wait_status):
            _sigkill(pid)


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _spawn(argv: Sequence[str], env: Mapping[str, str], *, traced: bool) -> int:
    """Fork bash; when traced, it waits until seized and installs the seccomp filter first."""
    ready, go = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go)
            if traced:
                if os.read(ready, 1) != b"x":
                    os._exit(126)
                install_seccomp()
            os.close(ready)
            os.execve(BASH, list(argv), dict(env))  # noqa: S606 - running the command is the job
        except BaseException as exc:  # noqa: BLE001 - the child reports and exits, whatever happened
            os.write(2, f"secure-mcp runner: cannot start bash: {exc}\n".encode())
        finally:
            os._exit(126)
    os.close(ready)
    if traced:
        try:
            _call(PTRACE_SEIZE, pid, OPTIONS)
        except TracerError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(go)
            raise
        # From here no traced process can attach to the runner or read its memory.
        _prctl(PR_SET_DUMPABLE, 0, None, 0, 0)
        os.write(go, b"x")
    os.close(go)
    return pid


def _status(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def run_untraced(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run bash with no enforcement (benchmarks only) and return its status."""
    pid = _spawn(argv, env, traced=False)
    _, wait_status = os.waitpid(pid, 0)
    return _status(wait_status)


def run_traced(argv: Sequence[str], env: Mapping[str, str], approved: frozenset[str] | None) -> Outcome:
    """Run bash under the tracer until it exits; processes still running then are killed.

    Once per process: the runner makes itself non-dumpable after seizing bash, and a later child
    would inherit that and refuse to be seized (the runner serves one request per container).

    Args:
        approved: real paths that may be exec'd; None records every exec (report mode) and stops none.

    Raises:
        TracerError: ptrace failed; every process of the call has been killed.
    """
    pid = _spawn(argv, env, traced=True)
    outcome = Outcome(status=126)
    seen = {pid}
    try:
        _trace(pid, approved, outcome, seen)
    except BaseException:
        _kill_all(seen)
        raise
    return outcome


def _trace(root: int, approved: frozenset[str] | None, outcome: Outcome, seen: set[int]) -> None:
    """Serve the tracees' stops until bash exits or an unapproved exec; ``seen``: pids alive now."""
    started = False
    while True:
        try:
            pid, wait_status = os.waitpid(-1, WALL)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if os.WIFEXITED(wait_status) or os.WIFSIGNALED(wait_status):
            seen.discard(pid)
            if pid == root:
                outcome.status = _status(wait_status)
                if not started:
                    raise TracerError("bash did not start")
                # Background processes do not outlive the command (their output had nowhere to go).
                _kill_all(seen)
                return
            continue
        if not os.WIFSTOPPED(wait_status):
            continue
        seen.add(pid)
        sig, event = os.WSTOPSIG(wait_status), wait_status >> 16
        if event == EVENT_EXEC:
            program = _program(pid)
            if pid == root and not started:
                started = True
                if program != os.path.realpath(BASH):
                    raise TracerError(f"expected bash, started {program}")
            elif approved is None:
                outcome.execs.append([program, *_argv(pid)])
            elif program not in approved:
                argv = _argv(pid)  # read before the kill: the process has not run an instruction yet
                _kill_all(seen)
                outcome.status = 128 + signal.SIGKILL
                outcome.blocked = {"program": program, "argv": argv}
                return
            _call(PTRACE_CONT, pid)
        elif event == EVENT_STOP:
            # A group-stop (SIGSTOP and friends) is kept with LISTEN so SIGCONT still wakes it;
            # anything else (a new child's first stop) just continues.
            _call(PTRACE_LISTEN if sig in STOP_SIGNALS else PTRACE_CONT, pid)
        elif event:
            _call(PTRACE_CONT, pid)  # fork, vfork, clone: the child is traced already
        else:
            _call(PTRACE_CONT, pid, sig)  # an ordinary signal: deliver it as if we were not here
