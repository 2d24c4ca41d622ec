"""Exec-time enforcement in the real sandbox (issue 14): a program outside the approved set never runs.

Each case hands the command straight to the sandbox with a small approved set, as if the policy had
been fooled into approving it. A canary file in the temporary workspace must survive every ``rm``;
the refusal names the real path of the program that was stopped.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox import Sandbox, SandboxRequest, SandboxResult

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

PY_SYSTEM = "import os; os.system('rm -v canary')"


async def _shell(sandbox: Sandbox, command: str, approved: tuple[str, ...], **kwargs: object) -> SandboxResult:
    request = SandboxRequest("shell", command, workspace_rw=True, approved=approved, **kwargs)  # type: ignore[arg-type]
    return await sandbox.run(request)


@pytest.fixture
def canary(workspace: Path) -> Path:
    path = workspace / "canary"
    path.write_text("alive")
    path.chmod(0o666)
    return path


#: (command, approved names, the program the tracer must stop)
BYPASSES = [
    ("echo &>/tmp/o rm -v canary; rm -v canary", ("echo",), "/usr/bin/rm"),
    ("echo $'\\'; rm -v canary'\nrm -v canary", ("echo",), "/usr/bin/rm"),
    ('cat <<E"O"F\nx\nEOF\nrm -v canary\n', ("cat",), "/usr/bin/rm"),
    ("cat <<E'O'F\nx\nEOF\nrm -v canary\n", ("cat",), "/usr/bin/rm"),
    ('cat <<""EOF\nx\nEOF\nrm -v canary\n', ("cat",), "/usr/bin/rm"),
    ("cat <<EO\\F\nx\nEOF\nrm -v canary\n", ("cat",), "/usr/bin/rm"),
    (f'echo "{PY_SYSTEM}" | python3 /dev/stdin', ("echo", "python3"), "/usr/bin/dash"),
    (f'python3 -m timeit -n 1 -s "{PY_SYSTEM}" pass', ("python3",), "/usr/bin/dash"),
    (f'python3 --check-hash-based-pycs always -c "{PY_SYSTEM}"', ("python3",), "/usr/bin/dash"),
    (f'echo "{PY_SYSTEM}" | python3 -i /dev/null', ("echo", "python3"), "/usr/bin/dash"),
    ("python3 -c \"import os; os.execv('/bin/rm', ['rm', 'canary'])\"", ("python3",), "/usr/bin/rm"),
    ("echo 1e rm canary > s.sed; sed -f s.sed canary", ("echo", "sed"), "/usr/bin/dash"),
    ("echo 'BEGIN{system(\"rm canary\")}' > s.awk; awk -f s.awk", ("echo", "awk"), "/usr/bin/dash"),
    ("git -C . -c alias.x='!mount -t tmpfs none /tmp' x", ("git",), "/usr/bin/dash"),
    ("git -C . -c alias.x='!mount' x", ("git",), "/usr/bin/mount"),
    ("mount -t tmpfs none /tmp", ("echo",), "/usr/bin/mount"),
    ("find . -name canary -exec rm {} \\;", ("find",), "/usr/bin/rm"),
    ("echo canary | xargs rm", ("echo", "xargs"), "/usr/bin/rm"),
    ("f() { rm -v canary; }; f", (), "/usr/bin/rm"),
    ("rm -v canary & wait", (), "/usr/bin/rm"),
    ("(sleep 0.2; rm -v canary) & wait", ("sleep",), "/usr/bin/rm"),
    ("echo $(rm -v canary)", ("echo",), "/usr/bin/rm"),
    ("printf '#!/bin/bash\\nrm -v canary\\n' > s.sh; chmod +x s.sh; ./s.sh", ("printf", "chmod"), "/usr/bin/rm"),
    ("printf '#!/bin/sh\\necho hi\\n' > s.sh; chmod +x s.sh; ./s.sh", ("printf", "chmod"), "/usr/bin/dash"),
    ("ln -s /bin/rm ./ls; ./ls canary", ("ln", "ls"), "/usr/bin/rm"),
    ("PATH=.:$PATH; ln -s /bin/rm ./cat; cat canary", ("ln", "cat"), "/usr/bin/rm"),
    ("/lib64/ld-linux-x86-64.so.2 /bin/rm canary", (), "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    (
        "python3 -c \"import os; fd = os.open('/bin/rm', os.O_RDONLY); os.execve(fd, ['rm', 'canary'], {})\"",
        ("python3",),
        "/usr/bin/rm",
    ),
]


@pytest.mark.parametrize(("command", "approved", "program"), BYPASSES)
async def test_an_unapproved_program_is_stopped_before_it_runs(
    sandbox: Sandbox, canary: Path, command: str, approved: tuple[str, ...], program: str
) -> None:
    """Whatever route starts it (shell, interpreter, find, xargs, function, background, script, execveat)."""
    if program.startswith("/usr/lib/x86_64") and not Path("/lib64").exists():
        pytest.fail("this case is written for x86_64")
    result = await _shell(sandbox, command, approved, timeout_s=20)
    assert result.blocked is not None, (result.exit_code, result.stdout, result.stderr)
    assert result.blocked.program == program
    assert canary.read_text() == "alive"
    assert "removed" not in result.stdout + result.stderr


async def test_the_refusal_carries_the_argv(sandbox: Sandbox, canary: Path) -> None:
    result = await _shell(sandbox, "echo x | xargs rm -f canary", ("echo", "xargs"))
    assert result.blocked is not None
    assert result.blocked.argv == ("rm", "-f", "canary", "x")
    assert result.exit_code == 137 and canary.exists()


async def test_a_blocked_exec_kills_the_whole_call(sandbox: Sandbox, workspace: Path) -> None:
    """Siblings started before the refusal die with it: nothing after the stop writes anything."""
    command = "(sleep 1; echo late > late.txt) & sleep 0.2; rm x; echo after > after.txt; wait"
    result = await _shell(sandbox, command, ("sleep",), timeout_s=10)
    assert result.blocked is not None and result.blocked.program == "/usr/bin/rm"
    assert not (workspace / "after.txt").exists()
    assert not (workspace / "late.txt").exists()


async def test_untraced_clone_is_refused(sandbox: Sandbox, canary: Path) -> None:
    """clone(CLONE_UNTRACED) would give a child the tracer cannot see: the seccomp filter says EPERM."""
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "pid = libc.syscall(56, 0x00800000 | 17, 0, 0, 0, 0)\n"
        "if pid == 0:\n"
        "    os.execv('/bin/rm', ['rm', '/workspace/canary'])\n"
        "print(pid, ctypes.get_errno())\n"
        "if pid > 0: os.waitpid(pid, 0)\n"
    )
    result = await _shell(sandbox, f'python3 -c "{code}"', ("python3",), timeout_s=20)
    assert result.blocked is None and result.stdout == "-1 1\n", (result.stdout, result.stderr)
    assert canary.read_text() == "alive"


async def test_background_processes_are_killed_when_bash_exits(sandbox: Sandbox, canary: Path) -> None:
    """What bash left running ends with the call (as before, when the container was removed)."""
    result = await _shell(sandbox, "(sleep 0.5; rm -v canary) & echo started", ("sleep",), timeout_s=10)
    assert result.blocked is None and result.stdout == "started\n" and result.exit_code == 0
    await anyio.sleep(1.5)
    assert canary.read_text() == "alive"


async def test_approved_programs_run_normally(sandbox: Sandbox, workspace: Path) -> None:
    """Approved names match their real paths: /bin/x == /usr/bin/x, python3 == python3.11, scripts."""
    (workspace / "run.py").write_text("#!/usr/bin/env python3\nprint('script ran')\n")
    (workspace / "run.py").chmod(0o755)
    command = (
        "ls canary >/dev/null 2>&1; /bin/ls -d . && /usr/bin/cat /dev/null && python3 -c 'print(2)' "
        "&& ./run.py && printf 'a\\nb\\n' | grep -c . && git --version >/dev/null && echo done"
    )
    approved = ("ls", "cat", "python3", "./run.py", "printf", "grep", "git")
    result = await _shell(sandbox, command, approved)
    assert result.blocked is None, result.blocked
    assert result.stdout == ".\n2\nscript ran\n2\ndone\n" and result.exit_code == 0


async def test_exit_status_signals_timeout_and_output_cap_are_unchanged(sandbox: Sandbox) -> None:
    assert (await _shell(sandbox, "exit 7", ())).exit_code == 7
    killed = await _shell(sandbox, "kill -TERM $$", ())
    assert killed.exit_code == 143
    jobs = await _shell(sandbox, "sleep 5 & p=$!; kill -STOP $p; kill -CONT $p; kill $p; wait $p; echo $?", ("sleep",))
    assert jobs.stdout == "143\n"
    trapped = await _shell(sandbox, "trap 'echo got' USR1; kill -USR1 $$; echo after", ())
    assert trapped.stdout == "got\nafter\n"
    timed = await _shell(sandbox, "echo start; sleep 30", ("sleep",), timeout_s=2)
    assert timed.timed_out and timed.exit_code is None and timed.stdout == "start\n"
    capped = await _shell(sandbox, "seq 1 100000", ("seq",), max_output_bytes=1000)
    assert capped.truncated and len(capped.stdout) == 1000


async def test_bash_starts_without_startup_files_or_posix_mode(sandbox: Sandbox) -> None:
    """bash, not dash: bash-only grammar works; nothing from the environment shapes the shell."""
    command = (
        "echo $'a\\tb' | cat -A; [[ -n x ]] && echo dbl; echo $((2 + 3)); "
        "echo ${BASH_ENV-unset} ${ENV-unset} ${POSIXLY_CORRECT-unset} ${SHELLOPTS} $BASH_VERSION | cut -c1-80"
    )
    result = await _shell(sandbox, command, ("cat", "cut"))
    lines = result.stdout.splitlines()
    assert lines[:3] == ["a^Ib$", "dbl", "5"]
    assert lines[3].startswith("unset unset unset braceexpand:hashall:interactive-comments 5.")


async def test_report_mode_lists_every_exec_and_stops_nothing(sandbox: Sandbox, canary: Path) -> None:
    result = await _shell(
        sandbox, "ls >/dev/null | cat; /bin/true x; echo hi | python3 -c 'import sys'", (), exec_mode="report"
    )
    assert result.blocked is None and result.exit_code == 0
    programs = sorted(row[0] for row in result.execs)
    assert programs == ["/usr/bin/cat", "/usr/bin/ls", "/usr/bin/python3.11", "/usr/bin/true"]
    assert ("/usr/bin/true", "/bin/true", "x") in result.execs


async def test_a_shell_request_without_an_approved_set_is_refused(sandbox: Sandbox, workspace: Path) -> None:
    with pytest.raises(SandboxError) as caught:
        await sandbox.run(SandboxRequest("shell", "echo x > made", workspace_rw=True))
    assert caught.value.reason == "invalid_request" and not (workspace / "made").exists()
