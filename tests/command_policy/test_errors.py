"""Fail-closed behaviour and the explanation: unparseable input is refused, errors never allow."""

from __future__ import annotations

import pytest

from secure_mcp.command_policy import CommandPolicy, judge_command
from secure_mcp.command_policy.model import ProgramVerdict
from secure_mcp.errors import Denied
from tests.command_policy.support import DEFAULT

UNPARSEABLE = [
    "",
    "   \n\t ",
    "ls\x00rm",
    "ls\x1b[2J",
    "echo 'unterminated",
    'echo "unterminated',
    "ls |",
    "if true; then ls",
    "cat <<EOF\n$(curl x\nEOF",
    "echo $(" * 40 + ")" * 40,
    "cat <<EOF\nno end line",
    "case x in a) rm x;;",
    "[[ -f x && ]]",
    "echo $((1+",
    "coproc N { curl x; }",
    "ls\n\\fdisk",
    "f() {",
    # A reserved word where a command starts: bash stops with a syntax error. Found by the exec
    # differential test: the first here-document's body runs to the second EOF line (bash's
    # reading), which leaves ``done`` at top level where the parser saw a command named "done".
    "ls; done",
    "echo a && fi",
    "cat <<EOF\nline\nEOF || for i in 1; do cat <<'EOF'\nx\nEOF\nhead a; done",
]


@pytest.mark.parametrize("command", ["x=1 done", '"done"', "echo done fi esac", "for i in 1; do ls; done"])
def test_a_reserved_word_that_is_a_word_to_bash_is_judged_not_refused(command: str) -> None:
    """Quoted, after an assignment, or as an argument, bash reads these as plain words."""
    judge_command(command, DEFAULT)


@pytest.mark.parametrize("command", UNPARSEABLE)
def test_unparseable_command_is_refused_by_validate(command: str) -> None:
    """A command the parser cannot read is refused: what it would run cannot be known."""
    with pytest.raises(Denied) as info:
        judge_command(command, DEFAULT)
    assert (info.value.stage, info.value.reason) == ("validate", "unparseable")


def test_oversized_command_is_refused_before_parsing() -> None:
    """Input over the size bound is refused, so parse time stays bounded."""
    with pytest.raises(Denied) as info:
        judge_command("ls " + "a" * 100, DEFAULT, max_chars=50)
    assert info.value.reason == "unparseable"


def test_internal_error_becomes_policy_error_refusal() -> None:
    """A crash inside the policy is a refusal with reason ``policy_error``, never an allow."""
    broken = CommandPolicy(allow=None, confirm=frozenset(), deny=frozenset())  # type: ignore[arg-type]
    with pytest.raises(Denied) as info:
        judge_command("ls", broken)
    assert (info.value.stage, info.value.reason) == ("validate", "policy_error")


def test_unknown_program_follows_the_policy_setting() -> None:
    """A program in no list is ``confirm`` by default and ``deny`` under ``unknown = "deny"``."""
    lax = CommandPolicy(allow=frozenset(), confirm=frozenset(), deny=frozenset())
    strict = CommandPolicy(allow=frozenset(), confirm=frozenset(), deny=frozenset(), unknown="deny")
    assert judge_command("fdisk", lax).decision == "confirm"
    assert judge_command("fdisk", strict).decision == "deny"


def test_explanation_lists_every_program_with_its_verdict() -> None:
    """The explanation has one line per program found, so a prompt shows everything that would run."""
    decision = judge_command("ls | grep x; curl y", DEFAULT)
    assert [p.program for p in decision.programs] == ["ls", "grep", "curl"]
    assert [p.verdict for p in decision.programs] == ["allow", "allow", "deny"]
    assert len(decision.explain().splitlines()) == 3


def test_wrapped_program_is_reported_with_its_wrapper() -> None:
    """``env curl`` lists both env and curl; the decision is curl's."""
    decision = judge_command("env curl x", DEFAULT)
    assert [p.program for p in decision.programs] == ["env", "curl"]
    assert decision.decision == "deny"


def test_duplicate_programs_are_listed_once() -> None:
    """Repeated identical findings are folded, keeping the explanation short."""
    expected = ProgramVerdict("ls", "allow", "in allow list", frozenset({"ls"}), "ls")
    assert judge_command("ls; ls; ls", DEFAULT).programs == (expected,)


def test_explanation_never_contains_raw_control_characters() -> None:
    """Explanation lines are single lines even when an opaque word spans lines."""
    decision = judge_command('"$(printf x)\nfoo"', DEFAULT)
    assert all(line for line in decision.explain().splitlines())
    assert len(decision.explain().splitlines()) == len(decision.programs)


def test_sudo_is_denied_even_when_listed_as_allowed() -> None:
    """Privilege helpers are refused whatever the lists say."""
    policy = CommandPolicy(allow=frozenset({"sudo", "ls"}), confirm=frozenset(), deny=frozenset())
    assert judge_command("sudo ls", policy).decision == "deny"


def test_find_delete_takes_rm_verdict() -> None:
    """``find -delete`` is judged as rm: denied when rm is denied, confirm when rm is in no list."""
    deny_rm = CommandPolicy(allow=frozenset({"find"}), confirm=frozenset(), deny=frozenset({"rm"}))
    no_rm = CommandPolicy(allow=frozenset({"find"}), confirm=frozenset(), deny=frozenset())
    assert judge_command("find . -delete", deny_rm).decision == "deny"
    assert judge_command("find . -delete", no_rm).decision == "confirm"


def test_sed_sandbox_and_plain_awk_are_judged_as_themselves() -> None:
    """awk/sed programs that cannot run commands take the program's own verdict."""
    policy = CommandPolicy(allow=frozenset({"awk", "sed"}), confirm=frozenset(), deny=frozenset())
    assert judge_command("awk -F: '{print $1}' /etc/passwd", policy).decision == "allow"
    assert judge_command("sed -n 's/a/b/gp;3q' f", policy).decision == "allow"
    assert judge_command("sed --sandbox 's/a/b/e' f", policy).decision == "allow"
    assert judge_command("sed 's/a/b/w out' f", policy).decision == "allow"
    assert judge_command("awk '{ \"id\" | getline x }'", policy).decision == "confirm"


def test_allowed_shell_running_a_script_file_is_allowed() -> None:
    """An allowed interpreter given a script file is allowed: the sandbox is the boundary."""
    policy = CommandPolicy(allow=frozenset({"bash"}), confirm=frozenset(), deny=frozenset())
    assert judge_command("bash build.sh --fast", policy).decision == "allow"
    assert judge_command("bash -c 'ls'", policy).decision == "confirm"
