"""Bypass attempts against the command policy, by family, each with the decision it must get.

Families from DesktopCommanderMCP's tracker: ``$(...)`` (#217), absolute paths (#218), quotes and
wildcards (#421), newlines (#422), process substitution (#497), ``sh -c``, ``env``, ``xargs`` (#730),
and the ones beyond them listed in issue 4. ``curl``/``wget``/``nc``/``sudo`` are denied and ``rm``
needs confirmation in the default policy, so a bypass would show up as a milder decision.
"""

from __future__ import annotations

import pytest

from secure_mcp.command_policy import CommandPolicy, judge_command
from secure_mcp.errors import Denied
from tests.command_policy.support import DEFAULT, STRICT

BYPASSES: list[tuple[str, str, str]] = [
    # command substitution (#217), also in quotes, assignments and redirect targets
    ("subst", "echo $(curl http://x)", "deny"),
    ("subst", "echo `wget x`", "deny"),
    ("subst", 'echo "$(nc -l 1)"', "deny"),
    ("subst", 'echo "`sudo id`"', "deny"),
    ("subst", "x=$(curl x) ls", "deny"),
    ("subst", "ls > $(curl x)", "deny"),
    ("subst", "echo $(echo $(echo $(wget x)))", "deny"),
    ("subst", "echo ${x:-$(curl x)}", "deny"),
    ("subst", "for f in $(curl x); do echo $f; done", "deny"),
    # absolute and relative paths (#218)
    ("path", "/usr/bin/curl x", "deny"),
    ("path", "/bin/rm -rf /", "confirm"),
    ("path", "/tmp/evil/curl x", "deny"),
    ("path", "./ls", "confirm"),
    ("path", "/workspace/bin/cat x", "confirm"),
    ("path", "bin/ls", "confirm"),
    # quotes, escapes and wildcards (#421)
    ("quote", "c'u'rl x", "deny"),
    ("quote", '"curl" x', "deny"),
    ("quote", 'c"ur"l x', "deny"),
    ("quote", "\\curl x", "deny"),
    ("quote", "$'\\x63url' x", "deny"),
    ("quote", "$'\\143url' x", "deny"),
    ("quote", "cu\\\nrl x", "deny"),
    ("glob", "/usr/bin/cur? x", "confirm"),
    ("glob", "/usr/bin/c*l x", "confirm"),
    ("glob", "/usr/bin/[c]url x", "confirm"),
    ("glob", "{curl,x}", "unparseable"),
    ("glob", "~/curl x", "confirm"),
    # newlines and lists (#422)
    ("newline", "ls\ncurl x", "deny"),
    ("newline", "ls; curl x", "deny"),
    ("newline", "ls && wget x", "deny"),
    ("newline", "false || nc -l 1", "deny"),
    ("newline", "ls & sudo id", "deny"),
    ("newline", "ls\n\n  rm -rf /", "confirm"),
    # process substitution (#497)
    ("procsub", "cat <(curl x)", "deny"),
    ("procsub", "ls > >(wget x)", "deny"),
    ("procsub", "while read l; do echo $l; done < <(nc x 1)", "deny"),
    # shells and interpreters with inline code or stdin (#730)
    ("inline", "sh -c 'ls'", "confirm"),
    ("inline", "bash -c 'curl x'", "deny"),
    ("inline", "bash -lc 'rm -rf /'", "confirm"),
    ("inline", "zsh -c ls", "confirm"),
    ("inline", "dash -c ls", "confirm"),
    ("inline", "python3 -c 'import os; os.system(\"id\")'", "confirm"),
    ("inline", "python3 -Ic 'print(1)'", "confirm"),
    ("inline", "python3.12 -c 'print(1)'", "confirm"),
    ("inline", "perl -e 'system(\"id\")'", "confirm"),
    ("inline", "perl -MPOSIX script.pl", "confirm"),
    ("inline", "ruby -e 'exec \"id\"'", "confirm"),
    ("inline", "node -e 'require(\"child_process\")'", "confirm"),
    ("inline", "node --eval=1", "confirm"),
    ("stdin", "echo curl x | sh", "confirm"),
    ("stdin", "echo 'import os' | python3", "confirm"),
    ("stdin", "python3 - < x.py", "confirm"),
    ("stdin", "bash <<< 'rm -rf /'", "confirm"),
    ("stdin", "sh < script.sh", "confirm"),
    ("stdin", "bash -s < x", "confirm"),
    ("stdin", "cat x | bash -", "confirm"),
    # wrappers (#730 env, xargs) and the rest of issue 4's list
    ("wrapper", "env curl x", "deny"),
    ("wrapper", "env -i curl x", "deny"),
    ("wrapper", "env -u HOME -- wget x", "deny"),
    ("wrapper", "env -S 'curl x'", "deny"),
    ("wrapper", "xargs curl < urls", "deny"),
    ("wrapper", "echo / | xargs -I{} rm -rf {}", "confirm"),
    ("wrapper", "xargs -n 1 -P 4 sudo", "deny"),
    ("wrapper", "find . -exec curl {} \\;", "deny"),
    ("wrapper", "find . -execdir wget {} +", "deny"),
    ("wrapper", "find . -ok nc {} \\;", "deny"),
    ("wrapper", "find . -name '*.tmp' -delete", "confirm"),
    ("wrapper", "nice -n 5 curl x", "deny"),
    ("wrapper", "nohup wget x", "deny"),
    ("wrapper", "timeout -s KILL 5 nc -l 1", "deny"),
    ("wrapper", "stdbuf -o0 curl x", "deny"),
    ("wrapper", "command curl x", "deny"),
    ("wrapper", "command -p wget x", "deny"),
    ("wrapper", "builtin eval ls", "confirm"),
    ("wrapper", "exec -a ls curl x", "deny"),
    ("wrapper", "exec curl x", "deny"),
    ("wrapper", "busybox wget x", "deny"),
    ("wrapper", "/bin/busybox nc -l", "deny"),
    ("wrapper", "env nice timeout 5 xargs curl", "deny"),
    ("wrapper", "env $CMD", "confirm"),
    ("wrapper", "flock /tmp/l -c 'curl x'", "deny"),
    ("priv", "sudo ls", "deny"),
    ("priv", "doas ls", "deny"),
    ("priv", "sudo -u root -- cat /etc/shadow", "deny"),
    # opaque program names
    ("opaque", "$X", "confirm"),
    ("opaque", "${X} -rf /", "confirm"),
    ("opaque", "$(echo rm) -rf /", "confirm"),
    ("opaque", "`echo curl` x", "confirm"),
    ("opaque", "eval 'ls'", "confirm"),
    ("opaque", 'eval "curl x"', "deny"),
    ("opaque", "source ./x.sh", "confirm"),
    ("opaque", ". ./x.sh", "confirm"),
    ("opaque", "alias ls='rm -rf /'", "confirm"),
    ("opaque", "trap 'curl x' EXIT", "deny"),
    ("opaque", "trap 'ls' EXIT", "confirm"),
    ("opaque", "watch ls", "confirm"),
    # here-documents expand substitutions in their body
    ("heredoc", "cat <<EOF\n$(curl x)\nEOF", "deny"),
    ("heredoc", "cat <<EOF\n`wget x`\nEOF", "deny"),
    ("heredoc", "cat <<EOF\nhello\nEOF\ncurl x", "deny"),
    ("heredoc", 'cat <<< "$(sudo id)"', "deny"),
    # compound commands
    ("compound", "(curl x)", "deny"),
    ("compound", "{ ls; wget x; }", "deny"),
    ("compound", "if true; then curl x; fi", "deny"),
    ("compound", "if curl x; then ls; fi", "deny"),
    ("compound", "while true; do nc -l 1; done", "deny"),
    ("compound", "until false; do wget x; done", "deny"),
    ("compound", "for i in 1 2; do sudo ls; done", "deny"),
    ("compound", "! curl x", "deny"),
    ("compound", "ls |& nc x 1", "deny"),
    # functions: bodies are judged, shadowing and recursion are unknown
    ("function", "ls() { rm -rf /; }; ls", "confirm"),
    ("function", "ls() { curl x; }; ls", "deny"),
    ("function", "function f { wget x; }; f", "deny"),
    ("function", "f() { curl x; }", "deny"),
    ("function", ":(){ :|:& };:", "confirm"),
    ("function", "f(){ f|f& }; f", "confirm"),
    # assignments that change program lookup or loading
    ("assign", "PATH=/workspace/bin ls", "confirm"),
    ("assign", "LD_PRELOAD=/workspace/x.so ls", "confirm"),
    ("assign", "BASH_ENV=/workspace/x sh script.sh", "confirm"),
    ("assign", "IFS=/; ls", "confirm"),
    ("assign", "PATH=/tmp; ls", "confirm"),
    ("assign", "export PATH=/workspace/bin", "confirm"),
    ("assign", "env PATH=/workspace ls", "confirm"),
    ("assign", "env LD_PRELOAD=x.so cat f", "confirm"),
    # text tools that can run commands, git config
    ("text", "awk 'BEGIN{system(\"id\")}'", "confirm"),
    ("text", "awk '{print | \"sh\"}' f", "confirm"),
    ("text", "sed 's/x/id/e' f", "confirm"),
    ("text", "sed -e '1e id' f", "confirm"),
    ("text", "git -c core.sshCommand=x fetch", "confirm"),
    ("text", "git -c alias.x='!sh' x", "confirm"),
]


def _decision(command: str, policy: CommandPolicy) -> str:
    """The decision, or ``unparseable`` when validate refuses the command as unreadable."""
    try:
        return judge_command(command, policy).decision
    except Denied as refused:
        assert (refused.stage, refused.reason) == ("validate", "unparseable")
        return "unparseable"


@pytest.mark.parametrize(("family", "command", "expected"), BYPASSES, ids=[f"{f}:{c!r}" for f, c, _ in BYPASSES])
def test_bypass_attempt_gets_its_decision(family: str, command: str, expected: str) -> None:
    """Each bypass attempt is judged by what would really run, never milder than that."""
    assert _decision(command, DEFAULT) == expected


@pytest.mark.parametrize(("family", "command", "expected"), BYPASSES, ids=[f"{f}:{c!r}" for f, c, _ in BYPASSES])
def test_bypass_attempt_is_denied_when_unknown_means_deny(family: str, command: str, expected: str) -> None:
    """With ``unknown = "deny"`` no bypass attempt is allowed, and a denied one stays denied."""
    decision = _decision(command, STRICT)
    assert decision != "allow"
    if expected == "deny":
        assert decision == "deny"


def test_bypass_table_covers_enough_attempts() -> None:
    """Issue 4 asks for at least 60 bypass attempts across every family."""
    assert len(BYPASSES) >= 60
    assert len({family for family, _, _ in BYPASSES}) >= 15
