"""Wrappers: programs whose job is to start another program, seen through to what they start.

``nice rm``, ``env rm``, ``timeout 5 rm``, ``xargs rm`` and ``busybox rm`` all run ``rm``. Each
wrapper's options are parsed just far enough to find where the wrapped command starts; an option
that turns the rest into a shell string (``env -S``, ``flock -c``) or a word produced by an
expansion before the command makes the wrapped program unknowable.
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
    """

    arg_options: frozenset[str] = frozenset()
    operands: int = 0
    opaque_options: frozenset[str] = frozenset()
    takes_assignments: bool = False
    default: str | None = None


def _spec(args: str = "", operands: int = 0, opaque: str = "", **kw: object) -> WrapperSpec:
    return WrapperSpec(frozenset(args.split()), operands, frozenset(opaque.split()), **kw)  # type: ignore[arg-type]


WRAPPERS: dict[str, WrapperSpec] = {
    "command": _spec(),
    "builtin": _spec(),
    "exec": _spec("-a"),
    "env": _spec("-u --unset -C --chdir", opaque="-S --split-string -P", takes_assignments=True),
    "nice": _spec("-n --adjustment"),
    "nohup": _spec(),
    "timeout": _spec("-s --signal -k --kill-after", operands=1),
    "stdbuf": _spec("-i -o -e --input --output --error"),
    "time": _spec("-f --format -o --output"),
    "xargs": _spec(
        "-I -L -n -P -s -d -E -a --arg-file --delimiter --max-lines --max-args --max-procs "
        "--max-chars --process-slot-var",
        default="echo",
    ),
    "setsid": _spec(),
    "ionice": _spec("-c -n --class --classdata"),
    "taskset": _spec(operands=1),
    "flock": _spec("-w --timeout -E --conflict-exit-code", operands=1, opaque="-c --command"),
    "chroot": _spec("--userspec --groups", operands=1),
    "unbuffer": _spec(),
    "sudo": _spec("-u -g -C -D -h -p -r -t -T -U --user --group --chdir --prompt --host"),
    "doas": _spec("-u -C"),
}

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
        if lit.startswith("-") and len(lit) > 1:
            consumed = _option(lit, spec)
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
    """Return how many words the option ``lit`` uses, or ``None`` for an opaque option."""
    if lit.startswith("--"):
        option, has_value, _ = lit.partition("=")
        if option in spec.opaque_options:
            return None
        return 2 if option in spec.arg_options and not has_value else 1
    for index, letter in enumerate(lit[1:], start=2):
        option = "-" + letter
        if option in spec.opaque_options:
            return None
        if option in spec.arg_options:
            return 2 if index == len(lit) else 1
    return 1


def _option_value(lit: str, nxt: str | None) -> str | None:
    """The string an opaque option carries: attached (``--opt=v``, ``-Sv``) or the next word."""
    if lit.startswith("--"):
        return lit.partition("=")[2] or nxt
    return lit[2:] or nxt
