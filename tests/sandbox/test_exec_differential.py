"""The differential test of issue 14: the programs bash really starts are the programs the policy reported.

Hypothesis writes a few thousand commands from allowed programs and the constructs agents use
(pipes, lists, loops, subshells, ``$( )``, here-documents, functions, ``find | xargs``, ``-exec``,
bash-only grammar). ONE container runs them all with the tracer in report mode: each command runs
in a subshell (``eval``) after a marker exec, so the exec list splits per command. For each
command, every program that started must be one the policy reported (resolved to its real path in
the image); bash itself is implicitly approved. A program that ran but was not reported is a
failure: the policy's parser and the shell disagreed.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from secure_mcp.command_policy import CommandPolicy, judge_command
from secure_mcp.errors import Denied
from secure_mcp.sandbox import Sandbox, SandboxRequest

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

POLICY = CommandPolicy(allow=frozenset(), confirm=frozenset(), deny=frozenset(), unknown="confirm")
MIN_COMPARED = 2000
MARK = "@@secure-mcp-differential@@"
BASH = "/usr/bin/bash"
HANG_S = 20
CONTROL = "echo ok | /usr/bin/nl"  # nl: a program no generated command uses
HUNG = "@@hung@@"


def reported_programs(command: str) -> frozenset[str] | None:
    """The programs the policy says COMMAND may start (its ``executables``); None when it refuses
    the command outright (then nothing reaches the sandbox, so nothing can disagree)."""
    try:
        decision = judge_command(command, POLICY)
    except Denied:
        return None  # refused in validate: it never reaches the sandbox, so nothing can disagree
    return frozenset(decision.executables)


FILES = ["a.txt", "b.txt", "dir/c.txt", "'a.txt'", '"b.txt"', "*.txt", "missing"]
WORDS = ["x", "'q w'", '"$HOME"', "a.txt", "$((1 + 2))", "$'t\\tab'", "{1,2}", "-n"]
LEAVES = [
    "echo {w}",
    "printf '%s\\n' {w}",
    "cat {f}",
    "ls {f}",
    "grep -c a {f}",
    "sort {f}",
    "uniq {f}",
    "wc -l {f}",
    "head -n 1 {f}",
    "tail -n 1 {f}",
    "tr a b < {f}",
    "cut -c1 {f}",
    "seq 3",
    "basename {w}",
    "true",
    "false",
    "test -f {f}",
    "[ -d dir ]",
    "sed -n 1p {f}",
    "awk '{{print $1}}' {f}",
    "find . -maxdepth 1 -name '*.txt'",
    "env ls {f}",
    "command cat {f}",
    "timeout 5 cat {f}",
    "xargs -r cat < {f}",
    "id -u",
    "sleep 0",
    "mkdir -p /tmp/d",
    "touch /tmp/t",
    "diff {f} a.txt",
    "python3 -c pass",
    "x={w} ls",
]
#: ``{a}``, ``{b}``: smaller commands; the constructs agents write, bash-only grammar included.
FORMS = [
    "{a} | {b}",
    "{a}; {b}",
    "{a} && {b}",
    "{a} || {b}",
    "if {a}; then {b}; fi",
    "( {a} )",
    "{{ {a}; }}",
    "echo $({a})",
    'v=$({a}); echo "$v"',
    "for i in 1 2; do {a}; done",
    "while false; do {a}; done",
    "f{d}() {{ {a}; }}; f{d}",  # one name per depth: a nested redefinition could recurse forever
    "cat <<EOF\nline $({a})\nEOF",
    "cat <<'EOF'\nline $({a})\nEOF\n{b}",
    "{a} & wait",
    "cat <({a})",
    "[[ -f a.txt ]] && {a}",
    "case x in x) {a};; esac",
    "for (( i=0; i<2; i++ )); do {a}; done",
    "find . -maxdepth 1 -name '*.txt' | xargs -r {p}",
    "find . -name '*.txt' -exec {p} {{}} \\;",
]
XARGS_PROGRAMS = ["cat", "wc -l", "grep -c a", "head -n 1"]
PER_EXAMPLE = 1000


def _command(rnd: random.Random, depth: int) -> str:
    if depth == 0 or rnd.random() < 0.3:
        return rnd.choice(LEAVES).format(f=rnd.choice(FILES), w=rnd.choice(WORDS))
    return rnd.choice(FORMS).format(
        a=_command(rnd, depth - 1), b=_command(rnd, depth - 1), p=rnd.choice(XARGS_PROGRAMS), d=depth
    )


def generate(count: int) -> list[str]:
    """``count`` distinct commands, from the grammar above with hypothesis-drawn seeds.

    Each hypothesis example expands into a batch of commands from the grammar above: drawing each
    command as its own example costs about 5 ms apiece on a busy machine, more than running it.
    """
    found: dict[str, None] = {}

    @settings(
        max_examples=4 * count // PER_EXAMPLE,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(min_value=0, max_value=2**64))
    def collect(seed: int) -> None:
        rnd = random.Random(seed)  # noqa: S311 - test data, not secrets
        for _ in range(PER_EXAMPLE):
            found.setdefault(_command(rnd, 3), None)

    collect()
    return list(found)[:count]


def _batch(commands: list[str]) -> str:
    """One ``bash -c COMMAND MARK INDEX`` per command, as the runner starts it; the exec marks the start.

    Each runs under ``timeout`` so one command that hangs is reported as such instead of sinking the batch.
    """
    lines = [
        f"timeout -s KILL {HANG_S} bash --noprofile --norc -c {shlex.quote(command + chr(10) + 'wait')} {MARK} {index}"
        f" </dev/null >/dev/null 2>&1; [ $? -ne 137 ] || echo {HUNG} {index}"
        for index, command in enumerate(commands)
    ]
    return "\n".join(lines) + "\n"


def _split(execs: tuple[tuple[str, ...], ...], count: int) -> list[set[str]]:
    per: list[set[str]] = [set() for _ in range(count)]
    current = -1
    for row in execs:
        if MARK in row and row[0] != BASH:
            continue  # the timeout(1) wrapping the next command
        if row[0] == BASH:
            if len(row) >= 8 and row[6] == MARK:
                current = int(row[7])
            continue
        if current >= 0:
            per[current].add(row[0])
    return per


async def _resolve(sandbox: Sandbox, names: set[str]) -> dict[str, str]:
    """Each name's real path in the image, as the runner resolves approved names.

    A name with no program behind it (the policy reports ``done`` for ``x=1 done``) is left out:
    bash cannot exec it either, and the script must not fail on it.
    """
    script = "\n".join(
        f'if p=$(type -P {shlex.quote(n)}); then echo {shlex.quote(n)} "$(readlink -f "$p")"; fi'
        for n in sorted(names)
        if "/" not in n
    )
    result = await sandbox.run(SandboxRequest("shell", script, approved=("readlink",), timeout_s=30))
    assert result.blocked is None and result.exit_code == 0, result.stderr
    paths = {}
    for line in result.stdout.splitlines():
        name, _, path = line.partition(" ")
        paths[name] = path
    return paths


@pytest.fixture
async def sandbox(make_sandbox: Callable[..., Sandbox]) -> AsyncIterator[Sandbox]:
    """One container runs the whole batch: a longer timeout than the default fixture's."""
    box = make_sandbox(warm_pool=0, timeout_s=180)
    try:
        yield box
    finally:
        await box.close()


async def test_every_program_bash_started_was_reported_by_the_policy(sandbox: Sandbox, workspace: Path) -> None:
    (workspace / "a.txt").write_text("alpha\nbeta\n")
    (workspace / "b.txt").write_text("a b c\n")
    (workspace / "dir").mkdir()
    (workspace / "dir" / "c.txt").write_text("gamma\n")
    commands = generate(3 * MIN_COMPARED)
    reported: dict[str, frozenset[str]] = {}
    for command in commands:
        judged = reported_programs(command)
        if judged is not None:
            reported[command] = judged
            if len(reported) == MIN_COMPARED:
                break
    assert len(reported) == MIN_COMPARED, f"only {len(reported)} of {len(commands)} commands were judged"
    reported[CONTROL] = frozenset()  # a negative control: the comparison must catch this one
    compared = list(reported)
    names = set().union(*reported.values())
    paths = await _resolve(sandbox, names)
    (workspace / "batch.sh").write_text(_batch(compared))  # too long for one argv string: bash sources it
    request = SandboxRequest(
        "shell", ". ./batch.sh", workspace_rw=True, exec_mode="report", timeout_s=180, max_output_bytes=1 << 20
    )
    result = await sandbox.run(request)
    assert not result.timed_out and result.execs, result.stderr[-2000:]
    hung = [compared[int(line.split()[1])] for line in result.stdout.splitlines() if line.startswith(HUNG)]
    assert not hung, f"{len(hung)} commands hung for {HANG_S}s: {hung[:10]}"
    seen = _split(result.execs, len(compared))
    assert sum(1 for programs in seen if programs) > len(compared) // 2  # the batch really ran
    failures = []
    previous: set[str] = set()
    for command, programs in zip(compared, seen, strict=True):
        permitted = {paths.get(name, name) for name in reported[command]}
        # bash does not wait for process substitutions (``cat <(find | xargs head)``): under load,
        # the previous command's last stragglers can exec after this command started, and the exec
        # log has no pids to tell them apart. So a program counts as reported when this command or
        # the one before reported it; one that neither reported is a disagreement.
        unreported = programs - permitted - previous
        previous = permitted
        if unreported:
            failures.append(f"{command!r}: started {sorted(unreported)}, policy reported {sorted(permitted)}")
    assert failures[-1].startswith(repr(CONTROL)), failures[-1:]
    failures.pop()
    assert not failures, f"{len(failures)} of {MIN_COMPARED} commands disagree:\n" + "\n".join(failures[:25])
