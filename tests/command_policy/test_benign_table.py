"""The benign table: realistic agent commands must run with no question under the bundled config.toml.

The commands live in ``benign_commands.txt`` (blocks separated by ``%%`` lines) so the same table
can be run through the sandbox. Issue 14 asks for at least 150 of them, at least 95% allowed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from secure_mcp.command_policy import CommandDecision, CommandPolicy, judge_command
from secure_mcp.config import load_config
from secure_mcp.errors import Denied

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def benign_commands() -> list[str]:
    """The table's entries, in file order (the header's ``#`` lines before the first ``%%`` dropped)."""
    text = (HERE / "benign_commands.txt").read_text()
    blocks = text.split("\n%%\n")
    return [block.strip("\n") for block in blocks[1:] if block.strip()]


@cache
def bundled_policy() -> CommandPolicy:
    """The shipped config.toml's policy, read once: loading the config for each of 200 commands cost 0.9 s."""
    settings = load_config(REPO / "config.toml").tools.run_command
    return CommandPolicy(
        frozenset(settings.allow), frozenset(settings.confirm), frozenset(settings.deny), settings.unknown
    )


def _judge(command: str) -> CommandDecision | Denied:
    try:
        return judge_command(command, bundled_policy())
    except Denied as refused:
        return refused


def test_table_has_at_least_150_commands_and_95_percent_run_without_a_question() -> None:
    """At least 95% of the table is allowed outright; the rest may ask, none is refused or denied."""
    commands = benign_commands()
    assert len(commands) >= 150
    results = {command: _judge(command) for command in commands}
    asked = [c for c, r in results.items() if not isinstance(r, Denied) and r.decision == "confirm"]
    refused = [c for c, r in results.items() if isinstance(r, Denied) or r.decision == "deny"]
    allowed = len(commands) - len(asked) - len(refused)
    assert not refused, refused
    assert allowed / len(commands) >= 0.95, asked


@pytest.mark.parametrize(
    ("command", "executables"),
    [
        ("git status", {"git"}),
        ("find . -name '*.py' | xargs grep -n foo", {"find", "xargs", "grep"}),
        ("find . -exec test -f {} \\;", {"find", "test"}),
        ("for f in *.py; do echo $f; done", set()),
        ("make test", {"make", "sh"}),
        ("python3 -m venv .venv", {"python3", ".venv/bin/python3"}),
        ("xargs < list.txt", {"xargs", "echo"}),
        ("env FOO=1 printf x", {"env", "printf"}),
        ("command printf x", set()),
        ("/bin/echo hi; echo hi", {"/bin/echo"}),
        ("f() { ls; }; f", {"ls"}),
        ("time ls", {"ls"}),
        ("cat <<EOF\n$(date)\nEOF", {"cat", "date"}),
        ("cat <<'EOF'\n$(date)\nEOF", {"cat"}),
    ],
)
def test_executables_are_exactly_what_execve_would_start(command: str, executables: set[str]) -> None:
    """Wrappers and what they wrap are reported, builtins and functions run by the shell are not."""
    result = _judge(command)
    assert not isinstance(result, Denied)
    assert result.executables == frozenset(executables)
