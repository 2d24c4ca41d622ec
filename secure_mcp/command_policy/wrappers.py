"""Wrappers: programs whose job is to start another program, seen through to what they start.

``nice rm``, ``env rm``, ``timeout 5 rm``, ``xargs rm`` and ``busybox rm`` all run ``rm``. Each
wrapper's options are parsed just far enough to find where the wrapped command starts; an option
that turns the rest into a shell string (``env -S``, ``flock -c``) or a word produced by an
expansion before the command makes the wrapped program unknowable. Each wrapper's table lists all
the options it accepts: an option outside it is unknowable too (it may take a value and shift which
word is the program).
"""

from __future__ import annotations

from dataclasses import dataclass

from secure_mcp.command_policy.parse import Word


@dataclass(frozen=True)
class WrapperSpec:
    """How to find the wrapped command in one wrapper's arguments.

    Attributes:
        arg_options: options that take the next word as their value.
        operands: operands before the wrapped command (``timeout DURATION``, ``flock FILE``).
        opaque_options: options that make the wrapped command a string we cannot see into.
        takes_assignments: ``NAME=VALUE`` words before the command set its environment (``env``).
        default: the command run when none is given (``xargs`` runs ``echo``).
        flags: every other option the wrapper accepts (with an attached value where noted by
            ``optional``); anything else makes the wrapped command unknowable.
        optional: options whose value can only be attached (``xargs -i{}``, ``xargs -l1``).
    """

    arg_options: frozenset[str] = frozenset()
    operands: int = 0
    opaque_options: frozenset[str] = frozenset()
    takes_assignments: bool = False
    default: str | None = None
    flags: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()


def _spec(
    args: str = "",
    operands: int = 0,
    opaque: str = "",
    flags: str = "",
    optional: str = "",
    takes_assignments: bool = False,
    default: str | None = None,
) -> WrapperSpec:
    return WrapperSpec(
        frozenset(args.split()),
        operands,
        frozenset(opaque.split()),
        takes_assignments,
        default,
        frozenset(flags.split()),
        frozenset(optional.split()),
    )


_HELP = "--help --version"
WRAPPERS: dict[str, WrapperSpec] = {
    "command": _spec(flags="-p"),
    "builtin": _spec(),
    "exec": _spec("-a", flags="-c -l"),
    "env": _spec(
        "-u --unset -C --chdir",
        opaque="-S --split-string",
        flags="-i --ignore-environment -0 --null -v --debug --block-signal --default-signal --ignore-signal "
        "--list-signal-handling " + _HELP,
        takes_assignments=True,
    ),
    "nice": _spec("-n --adjustment", flags=_HELP),
    "nohup": _spec(flags=_HELP),
    "timeout": _spec("-s --signal -k --kill-after", operands=1, flags="--preserve-status --foreground -v --verbose"),
    "stdbuf": _spec("-i -o -e --input --output --error", flags=_HELP),
    "time": _spec("-f --format -o --output", flags="-p --portability -a --append -v --verbose -q --quiet " + _HELP),
    "xargs": _spec(
        "-I -L -n -P -s -d -E -a --arg-file --delimiter --max-lines --max-args --max-procs "
        "--max-chars --process-slot-var --replace --eof",
        flags="-0 --null -r --no-run-if-empty -t --verbose -x --exit -p --interactive --show-limits -o --open-tty "
        + _HELP,
        optional="-i -l -e",
        default="echo",
    ),
    "setsid": _spec(flags="-c --ctty -f --fork -w --wait " + _HELP),
    "ionice": _spec("-c -n --class --classdata", flags="-t --ignore " + _HELP),
    "taskset": _spec(operands=1, flags="-a --all-tasks -c --cpu-list " + _HELP),
    "flock": _spec(
        "-w --timeout -E --conflict-exit-code",
        operands=1,
        opaque="-c --command",
        flags="-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose " + _HELP,
    ),
    "chroot": _spec("--userspec --groups", operands=1, flags="--skip-chdir " + _HELP),
    "unbuffer": _spec(flags="-p"),
    "sudo": _spec("-u -g -C -D -h -p -r -t -T -U --user --group --chdir --prompt --host"),
    "doas": _spec("-u -C"),
}
# Wrappers that are bash builtins: the program they start is looked up by the shell itself, so a
# builtin name stays a builtin (``command echo``); the others execve what they wrap.
SHELL_WRAPPERS = frozenset({"command", "builtin"})

# Escalating privileges is refused whatever the lists say (issue 4: denied themselves as well).
PRIVILEGED = frozenset({"sudo", "doas", "su", "pkexec", "run0", "runuser"})
MULTICALL = frozenset({"busybox", "toybox"})


@dataclass(frozen=True)
class Unwrapped:
    """The command a wrapper starts: its words, the environment it sets, or why it is unknowable."""

    inner: tuple[Word, ...]
    assignments: tuple[str, ...] = ()
    opaque: str | None = None
    hidden_code: str | None = None


def unwrap(name: str, words: tuple[Word, ...]) -> Unwrapped:
    """Find the command wrapper ``name`` starts in ``words`` (the wrapper's own word first)."""
    if name in MULTICALL:
        rest = words[1:]
        is_applet = bool(rest) and rest[0].literal is not None and not rest[0].literal.startswith("-")
        return Unwrapped(rest if is_applet or (rest and rest[0].literal is None) else ())
    spec = WRAPPERS[name]
    assignments: list[str] = []
    operands = spec.operands
    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            return Unwrapped((), opaque=f"{name} arguments are produced by an expansion")
        if lit == "--":
            i += 1
            break
        if lit == "-" and name == "env":
            i += 1  # env - is env -i
            continue
        if lit.startswith("-") and len(lit) > 1:
            consumed = _option(lit, spec)
            if consumed == 0:
                return Unwrapped((), opaque=f"{name} option {lit.split('=')[0]} is not in its table")
            if consumed is None:
                code = _option_value(lit, words[i + 1].literal if i + 1 < len(words) else None)
                return Unwrapped(
                    (), opaque=f"{name} {lit.split('=')[0]} runs a string we cannot see into", hidden_code=code
                )
            i += consumed
            continue
        if spec.takes_assignments and "=" in lit:
            assignments.append(lit.split("=", 1)[0])
            i += 1
            continue
        if operands:
            # GNU tools permute: options may follow operands (flock FILE -c CMD), so keep parsing.
            operands -= 1
            i += 1
            continue
        break
    inner = words[i:]
    if not inner and spec.default is not None:
        inner = (Word(spec.default, spec.default),)
    return Unwrapped(inner, tuple(assignments))


def _option(lit: str, spec: WrapperSpec) -> int | None:
    """How many words the option ``lit`` uses; ``None`` for an opaque option, 0 for an unknown one."""
    if lit.startswith("--"):
        option, has_value, _ = lit.partition("=")
        if option in spec.opaque_options:
            return None
        if option in spec.arg_options:
            return 1 if has_value else 2
        return 1 if option in spec.flags or option in spec.optional else 0
    if lit[1:].isdigit() and "-n" in spec.arg_options:
        return 1  # nice -5
    for index, letter in enumerate(lit[1:], start=2):
        option = "-" + letter
        if option in spec.opaque_options:
            return None
        if option in spec.arg_options:
            return 2 if index == len(lit) else 1
        if option in spec.optional:
            return 1
        if option not in spec.flags:
            return 0
    return 1


def _option_value(lit: str, nxt: str | None) -> str | None:
    """The string an opaque option carries: attached (``--opt=v``, ``-Sv``) or the next word."""
    if lit.startswith("--"):
        return lit.partition("=")[2] or nxt
    return lit[2:] or nxt
