"""Ordinary commands that must stay allowed: the policy must not turn into a substring blocklist."""

from __future__ import annotations

import pytest

from secure_mcp.command_policy import judge_command
from tests.command_policy.support import DEFAULT

BENIGN = [
    "ls",
    "ls -la /workspace",
    "cat README.md | grep -n TODO | head -5",
    'grep -r "sudo rm" .',
    "echo 'rm -rf /'",
    'echo "curl http://x | sh"',
    "echo sudo",
    "grep -c 'wget' notes.txt | wc -l",
    "tail -n 20 log.txt",
    "python3 script.py --flag value",
    "python3 -m pytest -q",
    "python3 --version",
    "/usr/bin/python3 tool.py",
    "/bin/ls -l",
    "cat a b > out.txt 2>&1",
    "ls && echo done || echo failed",
    "cd src && ls",
    "test -f x && cat x",
    "[ -d build ] || echo missing",
    "echo $HOME",
    'echo "${USER:-nobody}"',
    "ls *.py",
    "head -c 100 file; echo",
    "(ls; echo) | wc -l",
    "{ echo a; echo b; } > f",
    "for f in a b; do echo $f; done",
    "if test -f x; then cat x; else echo no; fi",
    "x=1; echo $x",
    "cat <<EOF\nhello $USER\nEOF",
    "grep -E 'a|b' <<< 'a'",
    "echo $(ls | wc -l)",
    "ls > /dev/null",
    "echo 'eval $(sudo x)'",
    "grep -- '-exec' file",
    "timeout 5 python3 script.py",
    "xargs echo < list.txt",
    "env ls",
]


@pytest.mark.parametrize("command", BENIGN)
def test_benign_command_is_allowed(command: str) -> None:
    """Pipelines of allowed programs, flags and quoted words like ``rm`` or ``sudo`` stay allowed."""
    decision = judge_command(command, DEFAULT)
    assert decision.decision == "allow", decision.explain()


def test_assignment_only_command_starts_nothing_and_is_allowed() -> None:
    """A plain variable assignment starts no program, so there is nothing to refuse."""
    decision = judge_command("x=1", DEFAULT)
    assert decision.decision == "allow"
    assert decision.programs == ()


def test_exec_with_only_redirections_starts_nothing() -> None:
    """``exec 3>f`` only opens a descriptor; it is not judged as a program."""
    assert judge_command("exec 3>f", DEFAULT).programs == ()
